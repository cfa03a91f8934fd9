#!/usr/bin/python3
"""Rewrites the qhv-agent options table of docs/configuration.md from
`qhv-agent --help`, so that the two never disagree.
usage: scripts/agent-conf-table.py build/src/qhv-agent"""
import re
import subprocess
import sys

agent = sys.argv[1]
doc = 'docs/configuration.md'
out = subprocess.run([agent, '--help'], capture_output=True, text=True, check=True).stdout
rows, section = [], None
for line in out.splitlines():
    m = re.match(r'^\[(.+)\]$', line)
    if m:
        section = m.group(1)
        continue
    m = re.match(r'^  (\S+)\s+(.*) \(default: (.*)\)$', line)
    if section and m:
        key, text, default = m.groups()
        rows.append('| `[%s]` | `%s` | `%s` | %s |' % (section, key, default, text))
s = open(doc).read()
start = s.index('## qhv-agent')
head = s.index('| section | option | default | meaning |\n|---|---|---|---|\n', start)
body = head + len('| section | option | default | meaning |\n|---|---|---|---|\n')
end = s.index('\n\n', body)
s = s[:body] + '\n'.join(rows) + s[end:]
open(doc, 'w').write(s)
