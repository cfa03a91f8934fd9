#!/usr/bin/python3
"""What qhv-server answers to the requests its HTTP layer refuses before
the API handler sees them (docs/security.md, "Errors of the HTTP layer";
these were the cases libmicrohttpd 0.9.75 answered itself, with HTML or
nothing): one line per case, on a new connection, as the second request of
a keep-alive connection, and over TLS. Every line shows a NeutronError.

    scripts/http_library_errors.py --build build

Prints the status line and what the body is (NeutronError, HTML, empty, or
the start of whatever else came). It starts its own qhv-server (loopback,
temporary database); it needs the test dependencies for the TLS column
(tests/api/test_tls.py makes the certificates with openssl).
"""
import argparse
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'api'))

POST = b'POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
CASES = [
    ('request line beyond the connection memory',
     b'GET /v2.0/networks?' + b'a' * 300000 + b' HTTP/1.1\r\nHost: x\r\n\r\n'),
    ('a header beyond the connection memory',
     b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 300000 + b'\r\n\r\n'),
    ('6,800 query arguments a=& (pool records)',
     b'GET /v2.0/networks?' + b'a=&' * 6800 + b' HTTP/1.1\r\nHost: x\r\n\r\n'),
    ('6,500 header lines a:1 (pool records)',
     b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n' + b'a:1\r\n' * 6500 + b'\r\n'),
    ('Content-Length: 5, 6', POST + b'Content-Length: 5, 6\r\n\r\n{}'),
    ('Content-Length: abc', POST + b'Content-Length: abc\r\n\r\n'),
    ('Content-Length beyond 2^64', POST + b'Content-Length: 99999999999999999999999\r\n\r\n'),
    ('bytes that are not HTTP', b'\x01\x02garbage\r\n\r\n'),
    ('request line without a version', b'GET /v2.0/networks\r\n\r\n'),
    ('version HTTX/1.1', b'GET /v2.0/networks HTTX/1.1\r\nHost: x\r\n\r\n'),
    ('HTTP/0.9', b'GET /v2.0/networks HTTP/0.9\r\nHost: x\r\n\r\n'),
    ('HTTP/2.0 (as an HTTP/1 request line)', b'GET /v2.0/networks HTTP/2.0\r\nHost: x\r\n\r\n'),
    ('header line without a colon', b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n'),
    ('malformed chunk size', POST + b'Transfer-Encoding: chunked\r\n\r\nZZ\r\n'),
    ('chunk size beyond 2^64',
     POST + b'Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n'),
    ('trailer line without a colon',
     POST + b'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nNoColon\r\n\r\n'),
]
FIRST = b'GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n\r\n'


def read_answer(sock):
    """One whole answer (headers and Content-Length body) from sock."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        d = sock.recv(65536)
        if not d:
            raise OSError('closed before the first answer')
        buf += d
    head, rest = buf.split(b'\r\n\r\n', 1)
    n = [int(line.split(b':', 1)[1]) for line in head.split(b'\r\n')
         if line.lower().startswith(b'content-length:')]
    while len(rest) < (n[0] if n else 0):
        rest += sock.recv(65536)


def exchange(connect, raw, keepalive):
    """(what came back, seconds from sending raw to the end)"""
    sock = connect()
    data = b''
    t0 = time.time()
    try:
        if keepalive:
            sock.sendall(FIRST)
            read_answer(sock)
        t0 = time.time()
        sock.sendall(raw)
        while True:
            d = sock.recv(65536)
            if not d:
                break
            data += d
    except OSError as e:
        data += ('<%s>' % (e.__class__.__name__ if isinstance(e, socket.timeout) else e)).encode()
    finally:
        sock.close()
    return data, time.time() - t0


def describe(answer):
    data, secs = answer
    if not data or data.startswith(b'<'):
        return 'no answer, %s after %.0f s' % (data.decode(errors='replace')[1:-1] or 'closed',
                                              secs)
    line = data.split(b'\r\n', 1)[0].decode(errors='replace')
    body = data.split(b'\r\n\r\n', 1)[1] if b'\r\n\r\n' in data else b''
    kind = ('NeutronError' if body.startswith(b'{"NeutronError"') else
            'HTML' if body.startswith(b'<html') else
            'empty' if not body else
            'JSON (served: within the limits)' if line[9:10] == '2' and body[:1] == b'{' else
            'then %r' % body[:24])
    return '%s, body: %s' % (line[9:], kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--no-tls', action='store_true')
    args = ap.parse_args()
    os.environ.setdefault('QHV_SERVER', os.path.join(os.path.abspath(args.build), 'src',
                                                     'qhv-server'))
    import qhvtest
    columns = []
    srv = qhvtest.Server('').start()
    plain = lambda: socket.create_connection(('127.0.0.1', srv.port), timeout=20)
    columns.append(('new connection', lambda raw: exchange(plain, raw, False)))
    columns.append(('keep-alive, 2nd request', lambda raw: exchange(plain, raw, True)))
    pki = tls = None
    if not args.no_tls:
        import test_tls
        pki = test_tls.Pki()
        tls = qhvtest.Server(pki.conf()).start()
        ctx = pki.context('ca.pem')
        secure = lambda: ctx.wrap_socket(socket.create_connection(('127.0.0.1', tls.port),
                                                                  timeout=20),
                                         server_hostname='localhost')
        columns.append(('TLS, new connection', lambda raw: exchange(secure, raw, False)))
    try:
        for name, raw in CASES:
            print(name)
            for title, run in columns:
                print('    %-24s %s' % (title + ':', describe(run(raw))))
    finally:
        for s in (srv, tls):
            if s:
                s.stop()
                s.cleanup()
        if pki:
            pki.cleanup()


if __name__ == '__main__':
    main()
