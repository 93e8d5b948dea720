"""A REST server written by hand from tests/fixtures/rest/library.proto's
google.api.http rules, with no transcoder and no descriptors: what a
grpc-gateway-style server expects to receive, checked route by route.

Every request is recorded (method, raw path, query pairs, content type,
body); GET /_requests returns the record, so that the test can assert the
exact shape rpcurl sent. Prints "LISTENING <port>" when ready.
"""

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

RECORD = []

SHELF = {"name": "shelves/1", "theme": "sea", "bookCount": "3", "genre": "FICTION"}
BOOK = {"name": "shelves/1/books/2", "title": "T", "pages": 10}


def route(method, path, query, body):
    """(status, JSON answer) for one request, per the rules of library.proto."""
    m = re.fullmatch(r"/v1/shelves/([^/]+)", path)
    if method == "GET" and m:
        if m.group(1) == "missing":
            return 404, {
                "code": 5,
                "message": "shelf not found",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "NO_SHELF",
                        "domain": "library.example",
                    }
                ],
            }
        if m.group(1) == "broken":
            return 503, "<html>upstream unavailable</html>"
        return 200, dict(SHELF, name="shelves/" + unquote(m.group(1)))
    if method == "GET" and path == "/v1/shelves":
        return 200, {"shelves": [SHELF], "nextPageToken": "p2"}
    if method == "POST" and path == "/v1/shelves":
        shelf = json.loads(body)
        return 200, dict(shelf, name="shelves/new")
    if method == "PATCH" and re.fullmatch(r"/v1/shelves/[^/]+", path):
        return 200, dict(json.loads(body), name=path[len("/v1/"):])
    if method == "DELETE" and re.fullmatch(r"/v1/shelves/[^/]+", path):
        return 200, {}
    if method == "GET" and re.fullmatch(r"/v1/books/[^/]+", path):
        return 200, BOOK
    if method == "POST" and re.fullmatch(r"/v1/shelves/[^/]+/books/[^/]+:move", path):
        return 200, dict(BOOK, name="shelves/3/books/2")
    if method == "SEARCH" and re.fullmatch(r"/v1/shelves/[^/]+/books", path):
        return 200, {"books": [BOOK], "total": 1}
    if method == "GET" and path.startswith("/v1/files/"):
        # response_body: "content": the answer is the FileContent alone.
        return 200, {"text": "hello", "size": "5"}
    return 404, {"code": 5, "message": "no route for %s %s" % (method, path)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        parts = urlsplit(self.path)
        if self.command == "GET" and parts.path == "/_requests":
            return self.answer(200, RECORD)
        RECORD.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qsl(parts.query, keep_blank_values=True),
                "contentType": self.headers.get("Content-Type"),
                "accept": self.headers.get("Accept"),
                "apiKey": self.headers.get("X-Api-Key"),
                "body": json.loads(body) if body else None,
            }
        )
        status, answer = route(self.command, parts.path, parts.query, body)
        self.answer(status, answer)

    def answer(self, status, value):
        if isinstance(value, str):
            data, kind = value.encode(), "text/html"
        else:
            data, kind = json.dumps(value).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_SEARCH = handle_any

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("LISTENING %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
