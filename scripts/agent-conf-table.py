#!/usr/bin/python3
"""Rewrites the qhv-agent options table of docs/configuration.md from
`qhv-agent --help`, so that the two never disagree.
usage: scripts/agent-conf-table.py [--check] build/src/qhv-agent
  --check: change nothing; exit 1 (saying so) if the table is not what the
  agent's --help says"""
import os
import re
import subprocess
import sys

args = sys.argv[1:]
check = '--check' in args
args = [a for a in args if a != '--check']
if len(args) != 1:
    sys.exit(__doc__)
agent = args[0]
doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'docs', 'configuration.md')
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
old = s = open(doc).read()
start = s.index('## qhv-agent')
head = s.index('| section | option | default | meaning |\n|---|---|---|---|\n', start)
body = head + len('| section | option | default | meaning |\n|---|---|---|---|\n')
end = s.index('\n\n', body)
s = s[:body] + '\n'.join(rows) + s[end:]
if check:
    if s != old:
        sys.exit('docs/configuration.md: the qhv-agent table differs from qhv-agent --help '
                 '(run scripts/agent-conf-table.py %s)' % agent)
else:
    open(doc, 'w').write(s)
