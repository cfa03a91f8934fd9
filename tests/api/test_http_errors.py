"""Every refusal of the HTTP layer itself (server/http_parse.c,
server/http_conn.c; docs/security.md "Errors of the HTTP layer") is a
NeutronError with its status, then the connection closes: on a new
connection, as the second request of a keep-alive connection, and over
TLS. Also what the layer must still do right: pipelined requests answered
in order, chunked bodies, Expect: 100-continue, HEAD and HTTP/1.0."""
import json
import os
import socket
import time
import unittest

import qhvtest
import test_tls

POST = b'POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
FIRST = b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n\r\n'
# (what, request, status): the rows of docs/security.md's table, and more.
CASES = [
    ('request line beyond the limit',
     b'GET /v2.0/networks?' + b'a' * 40000 + b' HTTP/1.1\r\nHost: x\r\n\r\n', 414),
    ('a header beyond the limit',
     b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 40000 + b'\r\n\r\n', 431),
    ('7,000 header lines (35 KB)',
     b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n' + b'a:1\r\n' * 7000 + b'\r\n', 431),
    ('Content-Length: 5, 6', POST + b'Content-Length: 5, 6\r\n\r\n{}', 400),
    ('Content-Length: abc', POST + b'Content-Length: abc\r\n\r\n', 400),
    ('Content-Length: +2', POST + b'Content-Length: +2\r\n\r\n{}', 400),
    ('Content-Length beyond 2^64', POST + b'Content-Length: 99999999999999999999999\r\n\r\n',
     413),
    ('bytes that are not HTTP', b'\x01\x02garbage\r\n\r\n', 400),
    ('request line without a version', b'GET /v2.0/networks\r\n\r\n', 400),
    ('version HTTX/1.1', b'GET /v2.0/networks HTTX/1.1\r\nHost: x\r\n\r\n', 400),
    ('HTTP/0.9', b'GET /v2.0/networks HTTP/0.9\r\nHost: x\r\n\r\n', 505),
    ('HTTP/2.0 on an HTTP/1 line', b'GET /v2.0/networks HTTP/2.0\r\nHost: x\r\n\r\n', 505),
    ('header line without a colon',
     b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n', 400),
    ('folded header line', b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n',
     400),
    ('bare LF', b'GET /v2.0/networks HTTP/1.1\nHost: x\n\n', 400),
    ('malformed chunk size', POST + b'Transfer-Encoding: chunked\r\n\r\nZZ\r\n', 400),
    ('chunk size beyond 2^64',
     POST + b'Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n', 413),
    ('trailer line without a colon',
     POST + b'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nNoColon\r\n\r\n', 400),
    ('unknown transfer coding', POST + b'Transfer-Encoding: gzip\r\n\r\n', 501),
    ('an Expect other than 100-continue', POST + b'Expect: magic\r\nContent-Length: 2\r\n\r\n{}',
     417),
]


def read_answer(sock, buf=b''):
    """(status, headers lower-cased, body, what follows) of one answer."""
    while b'\r\n\r\n' not in buf:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError('closed before an answer; got %r' % buf[:200])
        buf += d
    head, rest = buf.split(b'\r\n\r\n', 1)
    lines = head.decode('latin-1').split('\r\n')
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    want = int(headers.get('content-length', '0'))
    while len(rest) < want:
        d = sock.recv(65536)
        if not d:
            break
        rest += d
    return int(lines[0].split()[1]), headers, rest[:want], rest[want:]


def closed_after(sock, rest):
    """True once the server has closed the connection (nothing more came)."""
    if rest:
        return False
    try:
        return sock.recv(65536) == b''
    except ConnectionResetError:
        return True


class HttpErrorsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = test_tls.Pki()
        cls.plain = qhvtest.Server('\n[agent]\nauth_token = test-secret\n').start()
        cls.tls = qhvtest.Server(cls.pki.conf()).start()
        cls.ctx = cls.pki.context('ca.pem')

    @classmethod
    def tearDownClass(cls):
        rcs = []
        for s in (cls.plain, cls.tls):
            rcs.append(s.stop())
            s.cleanup()
        cls.pki.cleanup()
        if any(rcs):
            raise AssertionError('qhv-server exited with %s' % rcs)

    def connect(self, tls):
        s = socket.create_connection(('127.0.0.1', (self.tls if tls else self.plain).port),
                                     timeout=30)
        return self.ctx.wrap_socket(s, server_hostname='localhost') if tls else s

    def check(self, what, raw, status, tls=False, keepalive=False):
        with self.connect(tls) as s:
            buf = b''
            if keepalive:
                s.sendall(FIRST)
                st, _, _, buf = read_answer(s)
                self.assertEqual(st, 200)
            s.sendall(raw)
            st, headers, body, rest = read_answer(s, buf)
            self.assertEqual(st, status, '%s: %r' % (what, body))
            err = json.loads(body)['NeutronError']
            for k in ('type', 'message', 'detail'):
                self.assertIsInstance(err[k], str, what)
            self.assertTrue(err['message'], what)
            self.assertEqual(headers.get('content-type'), 'application/json', what)
            self.assertEqual(headers.get('connection'), 'close', what)
            self.assertTrue(headers.get('x-openstack-request-id', '').startswith('req-'))
            self.assertTrue(closed_after(s, rest), what)

    def test_new_connection(self):
        for what, raw, status in CASES:
            with self.subTest(what):
                self.check(what, raw, status)

    def test_keep_alive(self):
        for what, raw, status in CASES:
            with self.subTest(what):
                self.check(what, raw, status, keepalive=True)

    def test_tls(self):
        for what, raw, status in CASES:
            with self.subTest(what):
                self.check(what, raw, status, tls=True)
                if status != 414:       # one TLS keep-alive case is enough
                    continue
                self.check(what, raw, status, tls=True, keepalive=True)

    def test_pipelined_in_order(self):
        """Three requests sent at once are answered in order on one
        connection; a chunked body is read whole; the last closes it."""
        body = json.dumps({'network': {'name': 'piped'}}).encode()
        chunked = b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + 7]), body[i:i + 7])
                           for i in range(0, len(body), 7)) + b'0\r\n\r\n'
        with self.connect(False) as s:
            s.sendall(FIRST + POST + b'Transfer-Encoding: chunked\r\n\r\n' + chunked +
                      b'GET /v2.0/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            st1, _, b1, rest = read_answer(s)
            st2, _, b2, rest = read_answer(s, rest)
            st3, h3, _, rest = read_answer(s, rest)
            self.assertEqual((st1, st2, st3), (200, 201, 404), (b1, b2))
            self.assertIn('networks', json.loads(b1))
            self.assertEqual(json.loads(b2)['network']['name'], 'piped')
            self.assertEqual(h3.get('connection'), 'close')
            self.assertTrue(closed_after(s, rest))

    def test_expect_continue_head_and_http10(self):
        with self.connect(False) as s:
            s.sendall(POST + b'Expect: 100-continue\r\nContent-Length: 2\r\n\r\n')
            st, _, _, rest = read_answer(s)
            self.assertEqual(st, 100)
            s.sendall(b'{}')
            st, _, body, rest = read_answer(s, rest)
            self.assertEqual(st, 400, body)     # {} is not a network: the handler's answer
            self.assertIn('NeutronError', json.loads(body))
        # HEAD (405 from the API): a Content-Length, no body: the next answer follows.
        with self.connect(False) as s:
            s.sendall(b'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n')
            buf = b''
            while b'\r\n\r\n' not in buf:
                buf += s.recv(65536)
            head, rest = buf.split(b'\r\n\r\n', 1)
            self.assertTrue(head.startswith(b'HTTP/1.1 405 '), head)   # the API's answer
            self.assertRegex(head.decode(), r'(?i)content-length: [1-9]')
            s.sendall(FIRST)
            st, _, body, _ = read_answer(s, rest)
            self.assertEqual(st, 200)
            self.assertIn('networks', json.loads(body))
        # HTTP/1.0: no Host needed; closed after the answer unless kept alive.
        with self.connect(False) as s:
            s.sendall(b'GET /v2.0/networks HTTP/1.0\r\n\r\n')
            st, h, _, rest = read_answer(s)
            self.assertEqual(st, 200)
            self.assertTrue(closed_after(s, rest))
        with self.connect(False) as s:
            s.sendall(b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            st, h, _, rest = read_answer(s)
            self.assertEqual((st, h.get('connection')), (200, 'Keep-Alive'))
            s.sendall(b'GET / HTTP/1.0\r\n\r\n')
            st, _, _, _ = read_answer(s, rest)
            self.assertEqual(st, 200)

    def test_long_poll_of_a_half_closed_client_is_released(self):
        """A client that closes its side right after a long-poll's request
        (its close may come with the request, before the server suspends
        it) is released, not held for the 60 s wait."""
        host = 'halfclosed'
        token = self.plain.agent_token(host)
        hdr = b'X-Qhv-Agent-Token: ' + token.encode() + b'\r\n'
        with self.connect(False) as s:
            s.sendall(b'GET /channel/v1/hosts/%s/plan HTTP/1.1\r\nHost: x\r\n%s\r\n'
                      % (host.encode(), hdr))
            st, _, body, _ = read_answer(s)
            self.assertEqual(st, 200, body)
        rev = json.loads(body)['revision']
        fds = '/proc/%d/fd' % self.plain.proc.pid

        def api_inodes():
            """Sockets on the API's port (the database's, on PostgreSQL a
            worker thread's first connection, are not the API's)."""
            port = ':%04X ' % self.plain.port
            out = set()
            for table in ('/proc/net/tcp', '/proc/net/tcp6'):
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        if port in cols[1] + ' ':
                            out.add('socket:[%s]' % cols[9])
            return out

        def sockets():
            """The server's open sockets of the API: its other descriptors (a
            worker thread's first SQLite connection opens its files) do not
            count."""
            out = set()
            for fd in os.listdir(fds):
                try:
                    target = os.readlink(os.path.join(fds, fd))
                except OSError:
                    continue
                if target.startswith('socket:'):
                    out.add(target)
            return out & api_inodes()
        before = len(sockets())
        socks = []
        for _ in range(5):
            s = self.connect(False)
            s.sendall(b'GET /channel/v1/hosts/%s/plan?since=%d&wait=60 HTTP/1.1\r\n'
                      b'Host: x\r\n%s\r\n' % (host.encode(), rev, hdr))
            s.shutdown(socket.SHUT_WR)
            socks.append(s)
        try:
            deadline = time.time() + 40     # well before the 60 s wait ends
            while len(sockets()) > before and time.time() < deadline:
                time.sleep(0.1)
            self.assertLessEqual(len(sockets()), before)
        finally:
            for s in socks:
                s.close()


if __name__ == '__main__':
    unittest.main()
