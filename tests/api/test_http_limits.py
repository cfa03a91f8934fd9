"""The API listener against crowds and odd requests (server/http.c,
docs/operations.md "Connection limits"): idle and slow clients are dropped
after the header timeout, connections beyond the limits are answered 503
(not silence), long-polls of clients that have gone are released, a long
list of id= filters is answered and a longer one refused 414/431, and paths
and framing that two parsers could read two ways are refused (400/501).
All with real sockets against a real qhv-server; counts are kept modest."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import unittest

import qhvtest

UUID_FMT = '00000000-0000-0000-0000-%012d'


def connect(port, source='127.0.0.1'):
    """A TCP connection to the server from a loopback source address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(('127.0.0.1', port))
    return s


def exchange(port, data, source='127.0.0.1', timeout=20):
    """Sends raw bytes and reads until the server closes or answers fully:
    (status, headers dict lower-cased, body bytes); status None if the
    server closed without an answer."""
    s = connect(port, source)
    try:
        return exchange_on(s, data, timeout)
    finally:
        s.close()


def exchange_on(s, data, timeout=20):
    """exchange() on an open socket s, which it leaves open."""
    s.settimeout(timeout)
    try:
        s.sendall(data)
        buf = b''
        while b'\r\n\r\n' not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None, {}, buf
            buf += chunk
        head, body = buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(':')
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get('content-length', '0'))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    except (ConnectionResetError, BrokenPipeError):
        return None, {}, b''


def get(port, path, source='127.0.0.1', extra=''):
    req = 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n' % (path, extra)
    return exchange(port, req.encode(), source)


def closed_by_server(s):
    """True once the server has closed s (EOF or reset); False while open."""
    s.setblocking(False)
    try:
        return s.recv(1) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


class LimitsCase(qhvtest.ServerTestCase):
    def assertNeutronError(self, answer, statuses):
        status, headers, body = answer
        self.assertIn(status, statuses, body[:300])
        err = json.loads(body)['NeutronError']
        self.assertEqual(set(err), {'type', 'message', 'detail'})
        return err


class HeaderTimeoutTest(LimitsCase):
    # Limits high enough that 300 idle sockets all get a connection.
    extra_conf = """
[DEFAULT]
client_header_timeout = 2
max_connections = 400
max_connections_per_address = 40
"""

    def test_idle_connections_are_dropped_and_the_api_answers(self):
        port = self.server.port
        # 300 sockets that never send a byte, over 8 source addresses.
        idle = [connect(port, '127.0.0.%d' % (2 + i % 8)) for i in range(300)]
        try:
            self.assertEqual(get(port, '/v2.0/networks')[0], 200)
            self.wait_for('the server to close all 300 idle connections',
                          lambda: all(closed_by_server(s) for s in idle), timeout=30)
        finally:
            for s in idle:
                s.close()
        self.assertEqual(get(port, '/v2.0/networks')[0], 200)

    def test_slow_headers_are_dropped(self):
        # A byte at a time, each well inside any idle timeout: the header
        # timeout counts from the connection's start, not from the last byte.
        s = connect(self.server.port)
        data = b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n' + b'X-Slow: ' + b'a' * 10000
        sent = [0]

        def trickle():
            if closed_by_server(s):
                return True
            s.setblocking(True)
            try:
                s.send(data[sent[0]:sent[0] + 1])
            except OSError:
                return True
            sent[0] += 1
            return False
        try:
            self.wait_for('the server to drop a client trickling its headers', trickle,
                          timeout=30)
        finally:
            s.close()
        # 50 ms a byte for the 2 s timeout: far fewer than all of them.
        self.assertLess(sent[0], len(data))

    def test_keep_alive_between_requests_is_bounded_too(self):
        s = connect(self.server.port)
        try:
            s.sendall(b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n\r\n')
            s.settimeout(20)
            buf = b''
            while b'\r\n\r\n' not in buf:
                buf += s.recv(65536)
            self.assertTrue(buf.startswith(b'HTTP/1.1 200'), buf[:100])
            self.wait_for('the server to close an idle keep-alive connection',
                          lambda: closed_by_server(s), timeout=30)
        finally:
            s.close()


CHANNEL_CONF = """
[DEFAULT]
client_header_timeout = 60
max_connections = 120
max_connections_per_address = 10
[agent]
auth_token = test-secret
"""


class ConnectionLimitTest(LimitsCase):
    extra_conf = CHANNEL_CONF
    # The 120 connections one test holds may still count when the next one
    # begins (the server sees them close when it gets the CPU): one failed
    # so in a loaded double run.
    server_per_test = True

    def hold(self, n, sources):
        socks = []
        for i in range(n):
            socks.append(connect(self.server.port, sources[i % len(sources)]))
        return socks

    def wait_until_answered(self, source, statuses):
        """Requests from source until one is answered with a status in statuses."""
        last = []

        def probe():
            last[:] = [get(self.server.port, '/v2.0/networks', source)]
            return last[0][0] in statuses
        self.wait_for('an answer %s from %s' % (statuses, source), probe,
                      detail=lambda: repr(last))
        return last[0]

    def test_beyond_the_per_address_limit_is_503(self):
        held = self.hold(10, ['127.0.1.1'])
        try:
            # Accepted asynchronously: answered 503 once all 10 count.
            answer = self.wait_until_answered('127.0.1.1', (503,))
            err = self.assertNeutronError(answer, (503,))
            self.assertEqual(err['type'], 'HTTPServiceUnavailable')
            self.assertEqual(answer[1].get('connection'), 'close')
            # Another address is served meanwhile.
            self.assertEqual(get(self.server.port, '/v2.0/networks', '127.0.1.2')[0], 200)
        finally:
            for s in held:
                s.close()
        self.wait_until_answered('127.0.1.1', (200,))

    def test_beyond_the_connection_limit_is_503_not_silence(self):
        sources = ['127.0.2.%d' % i for i in range(1, 13)]
        held = self.hold(120, sources)
        try:
            answer = self.wait_until_answered('127.0.2.100', (503,))
            self.assertNeutronError(answer, (503,))
        finally:
            for s in held:
                s.close()
        self.wait_until_answered('127.0.2.100', (200,))

    def test_long_polls_of_closed_clients_are_released(self):
        host = 'lp1'
        token = self.server.agent_token(host)
        hdr = 'X-Qhv-Agent-Token: %s\r\n' % token
        st, _, body = get(self.server.port, '/channel/v1/hosts/%s/plan' % host, '127.0.3.1', hdr)
        self.assertEqual(st, 200, body)
        rev = json.loads(body)['revision']
        req = ('GET /channel/v1/hosts/%s/plan?since=%d&wait=60 HTTP/1.1\r\nHost: x\r\n%s\r\n'
               % (host, rev, hdr)).encode()
        polls = self.hold(10, ['127.0.3.1'])
        try:
            for s in polls:
                s.sendall(req)
            self.wait_until_answered('127.0.3.1', (503,))
        finally:
            for s in polls:
                s.close()
        # Released when their clients close, not when their 60 s wait ends.
        self.wait_until_answered('127.0.3.1', (200,))


def unread_bytes(port, client_ports):
    """Recv-Q of the server's ends of the connections from client_ports
    (what it has not read yet), from ss: {client port: bytes}."""
    out = subprocess.run(['ss', '-Htn', 'state', 'established', '( sport = :%d )' % port],
                         capture_output=True, text=True, check=True).stdout
    queued = {}
    for line in out.splitlines():
        f = line.split()
        peer = int(f[3].rsplit(':', 1)[1])
        if peer in client_ports:
            queued[peer] = int(f[0])
    return queued


@qhvtest.skip_on_postgresql("the writes are held with the SQLite file's lock; the listener is the "
                            'same on both engines')
class LoopSpreadTest(LimitsCase):
    """A loop serves its connections' requests one at a time, and a request
    may wait on the database: connections that arrive together must not all
    go to the loop that woke first (they did: 16 clients' connections on one
    loop, their creates one after another while the other loops idled)."""
    extra_conf = '[DEFAULT]\napi_workers = 8\n'
    server_per_test = True

    def test_a_burst_of_connections_is_spread_over_the_loops(self):
        port = self.server.port
        # As many connections as loops, waiting to be accepted at once: the
        # server is stopped while the kernel completes them.
        os.kill(self.server.proc.pid, signal.SIGSTOP)
        try:
            socks = [connect(port) for _ in range(8)]
        finally:
            os.kill(self.server.proc.pid, signal.SIGCONT)
        writes, reader = socks[:7], socks[7]
        db = sqlite3.connect(os.path.join(self.server.dir, 'qhv.sqlite'), timeout=60,
                             isolation_level=None)
        db.execute('BEGIN IMMEDIATE')   # every write now waits (up to 10 s) for this lock
        try:
            body = json.dumps({'network': {'name': 'held'}}).encode()
            req = (b'POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json'
                   b'\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body))
            for s in writes:
                s.sendall(req)
            mine = {s.getsockname()[1] for s in writes}
            # Read by their loops, which now wait in the database.
            self.wait_for('the seven writes read by the server',
                          lambda: unread_bytes(port, mine) == dict.fromkeys(mine, 0),
                          detail=lambda: repr(unread_bytes(port, mine)))
            st, _, body = exchange_on(reader, b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n'
                                              b'Connection: close\r\n\r\n', timeout=60)
            self.assertEqual(st, 200, body[:200])
            # Answered while every write still waits: not behind one of them.
            for s in writes:
                s.setblocking(False)
                with self.assertRaises(BlockingIOError, msg='a write was answered first'):
                    s.recv(1)
        finally:
            db.execute('ROLLBACK')
            db.close()
        for s in writes:
            s.setblocking(True)
            s.settimeout(60)
            self.assertTrue(s.recv(65536).startswith(b'HTTP/1.1 201 '))
            s.close()
        reader.close()


class RequestFormTest(LimitsCase):
    def make_port(self):
        net = self.make_network(name='limits')
        st, out = self.post('/v2.0/ports', {'port': {'network_id': net['id']}})
        self.assertEqual(st, 201, out)
        return out['port']['id']

    def port_exists(self, port_id):
        return self.get('/v2.0/ports/%s' % port_id)[0] == 200

    def test_a_16k_list_of_id_filters_is_answered(self):
        port_id = self.make_port()
        ids = [UUID_FMT % i for i in range(399)] + [port_id]
        query = '&'.join('id=%s' % i for i in ids)
        self.assertGreater(len(query), 15000)
        st, _, body = get(self.server.port, '/v2.0/ports?' + query)
        self.assertEqual(st, 200, body[:300])
        self.assertEqual([p['id'] for p in json.loads(body)['ports']], [port_id])

    def test_a_64k_query_is_refused_with_a_neutron_error(self):
        query = '&'.join('id=%s' % (UUID_FMT % i) for i in range(1600))
        self.assertGreater(len(query), 60000)
        self.assertNeutronError(get(self.server.port, '/v2.0/ports?' + query), (414, 431))

    def test_huge_headers_are_refused_with_a_neutron_error(self):
        answer = get(self.server.port, '/v2.0/networks', extra='X-Big: %s\r\n' % ('a' * 60000))
        self.assertNeutronError(answer, (431,))

    def test_encoded_nul_and_slash_in_the_path_are_refused(self):
        port_id = self.make_port()
        for path in ('/v2.0/ports/%s%%00junk' % port_id, '/v2.0/ports/%s%%2Fjunk' % port_id,
                     '/v2.0/ports/%s%%2fjunk' % port_id):
            req = 'DELETE %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' % path
            answer = exchange(self.server.port, req.encode())
            err = self.assertNeutronError(answer, (400,))
            self.assertEqual(err['type'], 'HTTPBadRequest', err)
            self.assertTrue(self.port_exists(port_id), path)

    def test_encoded_nul_in_a_filter_is_refused(self):
        answer = get(self.server.port, '/v2.0/ports?name=a%00b')
        self.assertNeutronError(answer, (400,))

    def post_raw(self, headers, body=b'{"network": {"name": "framing"}}'):
        req = ('POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
               'Content-Type: application/json\r\n%s\r\n' % headers).encode() + body
        return exchange(self.server.port, req)

    def no_framing_network(self):
        _, out = self.get('/v2.0/networks?name=framing')
        return out['networks'] == []

    def test_conflicting_content_lengths_are_refused(self):
        answer = self.post_raw('Content-Length: 32\r\nContent-Length: 10\r\n')
        self.assertNeutronError(answer, (400,))
        self.assertTrue(self.no_framing_network())

    def test_transfer_encoding_with_content_length_is_refused(self):
        body = b'20\r\n{"network": {"name": "framing"}}\r\n0\r\n\r\n'
        answer = self.post_raw('Content-Length: 32\r\nTransfer-Encoding: chunked\r\n', body)
        self.assertNeutronError(answer, (400,))
        self.assertTrue(self.no_framing_network())

    def test_unknown_transfer_coding_is_501(self):
        answer = self.post_raw('Transfer-Encoding: gzip, chunked\r\n', b'0\r\n\r\n')
        err = self.assertNeutronError(answer, (501,))
        self.assertEqual(err['type'], 'HTTPNotImplemented')
        self.assertTrue(self.no_framing_network())

    def test_http11_needs_exactly_one_host(self):
        # RFC 7230 5.4 (libmicrohttpd, the earlier HTTP layer, served both): 400.
        for host in ('', 'Host: x\r\nHost: y\r\n'):
            req = 'GET /v2.0/networks HTTP/1.1\r\n%sConnection: close\r\n\r\n' % host
            err = self.assertNeutronError(exchange(self.server.port, req.encode()), (400,))
            self.assertIn('Host header', err['message'])
        # HTTP/1.0 needs none.
        status, _, body = exchange(self.server.port, b'GET /v2.0/networks HTTP/1.0\r\n\r\n')
        self.assertEqual(status, 200, body[:300])

    def test_ordinary_requests_still_work(self):
        body = b'{"network": {"name": "plain"}}'
        ok = self.post_raw('Content-Length: %d\r\n' % len(body), body)
        self.assertEqual(ok[0], 201, ok[2])
        body = b'{"network": {"name": "chunked"}}'
        chunked = self.post_raw('Transfer-Encoding: chunked\r\n',
                                b'%x\r\n%s\r\n0\r\n\r\n' % (len(body), body))
        self.assertEqual(chunked[0], 201, chunked[2])


if __name__ == '__main__':
    unittest.main()
