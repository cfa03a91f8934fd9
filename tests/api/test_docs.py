"""docs/ stays true: the qhv-agent options table in docs/configuration.md is
what `qhv-agent --help` says (scripts/agent-conf-table.py regenerates it)."""
import os
import subprocess
import unittest

import qhvtest

BUILD = os.path.dirname(qhvtest.SERVER)
AGENT = os.environ.get('QHV_AGENT', os.path.join(BUILD, 'qhv-agent'))
SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', 'scripts', 'agent-conf-table.py')


class DocsTest(unittest.TestCase):

    def test_agent_options_table_matches_help(self):
        if not os.access(AGENT, os.X_OK):
            raise AssertionError('%s is not built' % AGENT)
        r = subprocess.run(['/usr/bin/python3', SCRIPT, '--check', AGENT], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == '__main__':
    unittest.main()
