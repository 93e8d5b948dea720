#!/usr/bin/env python3
"""Interop test server for rpcurl on gRPC C-core (the `grpcio` package).

It serves rpcurl.test.v1.TestService with the same behaviour as the Rust
in-process server in tests/it/support/server.rs, built at run time from the
descriptor set descriptors/test.binpb: no code is generated for the test
schema. It also serves grpc.health.v1.Health and, unless --no-reflection,
server reflection (grpcio-reflection serves v1alpha only).

Usage:
  python server.py --port PORT [--host 127.0.0.1] [--unix PATH]
                   [--tls-cert F --tls-key F [--client-ca F]] [--no-reflection]

Once serving it prints one line, `LISTENING <port>` (or `LISTENING unix:<path>`
when it listens on a Unix socket only), and flushes stdout. SIGTERM and SIGINT
stop it cleanly.
"""

import argparse
import os
import signal
import stat
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE = "rpcurl.test.v1.TestService"
PACKAGE = "rpcurl.test.v1"
TYPE_URL_PREFIX = "type.googleapis.com/"

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DESCRIPTORS = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "descriptors", "test.binpb")
)

# grpc.StatusCode by its number. Numbers outside the gRPC range become
# UNKNOWN, as tonic's Code::from_i32 does.
CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(number):
    return CODES.get(number, grpc.StatusCode.UNKNOWN)


def add_files(pool, files):
    """Adds FileDescriptorProtos to pool, each after the files it imports."""
    by_name = {f.name: f for f in files}
    added = set()

    def add(name):
        if name in added:
            return
        added.add(name)
        proto = by_name.get(name)
        if proto is None:
            return  # already in the pool, or missing: Add will say so
        for dep in proto.dependency:
            add(dep)
        pool.Add(proto)

    for name in by_name:
        add(name)


def load_descriptor_set(path):
    with open(path, "rb") as f:
        return descriptor_pb2.FileDescriptorSet.FromString(f.read())


def packaged_file(module):
    """The FileDescriptorProto of a module a package ships (health, rpc status)."""
    return descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)


class Schema:
    """Message classes made at run time from descriptor pools."""

    def __init__(self, descriptor_set_path, with_reflection):
        files = list(load_descriptor_set(descriptor_set_path).file)
        # The pool reflection serves: the test descriptor set, as the Rust
        # server's reflection does, plus the files of the other services this
        # server lists (health, reflection) so a client can resolve every
        # service that list_services names.
        extra = [packaged_file(health_pb2)]
        if with_reflection:
            from grpc_reflection.v1alpha import reflection_pb2

            extra.append(packaged_file(reflection_pb2))
        self.pool = descriptor_pool.DescriptorPool()
        add_files(self.pool, files + extra)

        # google.rpc.Status and its detail types are not in test.binpb; they
        # come from the descriptors googleapis-common-protos ships, in a pool
        # of their own so that reflection offers only what the Rust server's
        # reflection offers.
        from google.rpc import error_details_pb2, status_pb2

        wanted = {"google/protobuf/any.proto", "google/protobuf/duration.proto"}
        self.rpc_pool = descriptor_pool.DescriptorPool()
        add_files(
            self.rpc_pool,
            [f for f in files if f.name in wanted]
            + [packaged_file(status_pb2), packaged_file(error_details_pb2)],
        )

        self.service = self.pool.FindServiceByName(SERVICE)

    def cls(self, name):
        try:
            desc = self.pool.FindMessageTypeByName(name)
        except KeyError:
            desc = self.rpc_pool.FindMessageTypeByName(name)
        return message_factory.GetMessageClass(desc)

    def new(self, name, **fields):
        return self.cls(name)(**fields)

    def any(self, type_name, value):
        return self.new(
            "google.protobuf.Any", type_url=TYPE_URL_PREFIX + type_name, value=value
        )

    def rpc_any(self, type_name, value):
        """An Any of the rpc pool, for google.rpc.Status.details."""
        return self.cls_rpc("google.protobuf.Any")(
            type_url=TYPE_URL_PREFIX + type_name, value=value
        )

    def cls_rpc(self, name):
        return message_factory.GetMessageClass(self.rpc_pool.FindMessageTypeByName(name))


class TestService:
    def __init__(self, schema):
        self.s = schema

    # --- unary ---

    def Echo(self, request, context):
        return request

    def Headers(self, request, context):
        headers = {}
        for key, value in context.invocation_metadata():
            if isinstance(value, bytes):  # -bin headers arrive decoded
                value = value.decode("utf-8", errors="replace")
            headers.setdefault(key.lower(), []).append(value)
        response = self.s.new(f"{PACKAGE}.HeadersResponse")
        for key, values in headers.items():
            response.headers[key].values.extend(values)
        context.send_initial_metadata((("x-response-header", "hello"),))
        return response

    def Sleep(self, request, context):
        time.sleep(max(request.ms, 0) / 1000.0)
        return self.s.new("google.protobuf.Empty")

    def Wrap(self, request, context):
        kind = request.kind
        if kind == 1:
            name = f"{PACKAGE}.Everything.Nested"
            value = self.s.any(name, self.s.new(name, label="local", n=1).SerializeToString())
        elif kind == 2:
            name = f"{PACKAGE}.Extra"
            value = self.s.any(
                name, self.s.new(name, note="extra", numbers=[1, 2]).SerializeToString()
            )
        elif kind == 3:
            value = self.s.any(f"{PACKAGE}.Nowhere", b"\x08\x01")
        else:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "kind must be set")
        return self.s.new(f"{PACKAGE}.WrapResponse", value=value)

    # Fail is served as a unary-stream handler (the same on the wire as a
    # unary one): that is the only way grpcio can end a call with status OK
    # and no response message, which is what the Rust server does for code 0.
    def Fail(self, request, context):
        code = status_code(request.code)
        details = []
        if request.with_details:
            info = self.s.cls_rpc("google.rpc.ErrorInfo")(
                reason="TEST_REASON", domain="rpcurl.test", metadata={"key": "value"}
            )
            details.append(self.s.rpc_any("google.rpc.ErrorInfo", info.SerializeToString()))
            bad = self.s.cls_rpc("google.rpc.BadRequest")()
            bad.field_violations.add(field="name", description="must not be empty")
            details.append(self.s.rpc_any("google.rpc.BadRequest", bad.SerializeToString()))
        if request.with_custom_details:
            detail = self.s.new(f"{PACKAGE}.TestDetail", hint="try again", attempt=2)
            details.append(
                self.s.rpc_any(f"{PACKAGE}.TestDetail", detail.SerializeToString())
            )
            details.append(self.s.rpc_any(f"{PACKAGE}.Unknowable", b"\x01\x02\x03"))
        trailers = [("x-trailer", "bye")]
        if details:
            status = self.s.cls_rpc("google.rpc.Status")(
                code=code.value[0], message=request.message, details=details
            )
            trailers.append(("grpc-status-details-bin", status.SerializeToString()))
        # abort_with_status would replace these trailers; set them, then abort.
        context.set_trailing_metadata(trailers)
        end(context, code, request.message)
        return iter(())

    # --- streaming ---

    def Count(self, request, context):
        count, interval = request.count, max(request.interval_ms, 0) / 1000.0
        fail_after, fail_code = request.fail_after, request.fail_code
        # The same sequence as the Rust server's: `count` responses, or
        # `fail_after` responses and then the failure.
        limit = fail_after + 1 if 0 < fail_after < count else count
        for i in range(max(limit, 0)):
            if interval > 0 and i > 0:
                time.sleep(interval)
            if fail_after > 0 and i == fail_after:
                end(context, status_code(fail_code), "stream failed as asked")
                return
            yield self.s.new(f"{PACKAGE}.CountResponse", index=i, text=request.text)

    def Sum(self, request_iterator, context):
        total = count = 0
        for item in request_iterator:
            total += item.value
            count += 1
        return self.s.new(f"{PACKAGE}.SumResponse", total=total, count=count)

    def Chat(self, request_iterator, context):
        seq = 0
        for item in request_iterator:
            seq += 1
            yield self.s.new(f"{PACKAGE}.ChatMessage", text="echo: " + item.text, seq=seq)


def end(context, code, message):
    """Ends the call with code and message. grpcio's abort() turns OK into
    UNKNOWN, so an OK status is set instead (the handler must then return)."""
    if code == grpc.StatusCode.OK:
        context.set_code(code)
        context.set_details(message)
    else:
        context.abort(code, message)


def generic_handler(schema):
    impl = TestService(schema)
    handlers = {}
    for method in schema.service.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        kwargs = dict(
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )
        behaviour = getattr(impl, method.name)
        client_streaming = method.client_streaming
        server_streaming = method.server_streaming or method.name == "Fail"
        if client_streaming and server_streaming:
            handler = grpc.stream_stream_rpc_method_handler(behaviour, **kwargs)
        elif client_streaming:
            handler = grpc.stream_unary_rpc_method_handler(behaviour, **kwargs)
        elif server_streaming:
            handler = grpc.unary_stream_rpc_method_handler(behaviour, **kwargs)
        else:
            handler = grpc.unary_unary_rpc_method_handler(behaviour, **kwargs)
        handlers[method.name] = handler
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, help="TCP port; 0 picks a free one")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--unix", metavar="PATH", help="also (or only) listen on this Unix socket")
    p.add_argument("--tls-cert", metavar="F")
    p.add_argument("--tls-key", metavar="F")
    p.add_argument("--client-ca", metavar="F", help="require client certificates signed by F")
    p.add_argument("--no-reflection", action="store_true")
    p.add_argument("--descriptors", default=DEFAULT_DESCRIPTORS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.port is None and args.unix is None:
        p.error("give --port, --unix or both")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert and --tls-key")
    return args


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv=None):
    args = parse_args(argv)
    schema = Schema(args.descriptors, not args.no_reflection)

    # so_reuseport off: binding a port that is in use must fail, not share it.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32), options=[("grpc.so_reuseport", 0)]
    )
    server.add_generic_rpc_handlers((generic_handler(schema),))

    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    if not args.no_reflection:
        from grpc_reflection.v1alpha import reflection

        names = (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server, pool=schema.pool)

    credentials = None
    if args.tls_cert:
        credentials = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))],
            root_certificates=read(args.client_ca) if args.client_ca else None,
            require_client_auth=bool(args.client_ca),
        )

    def bind(address):
        try:
            if credentials is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, credentials)
        except RuntimeError as e:
            port, err = 0, e
        else:
            err = None
        if not port:
            sys.exit(f"server.py: cannot listen on {address}: {err or 'bind failed'}")
        return port

    port = None
    if args.port is not None:
        host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
        port = bind(f"{host}:{args.port}")
    if args.unix:
        try:
            if stat.S_ISSOCK(os.stat(args.unix).st_mode):
                os.unlink(args.unix)  # a stale socket from an earlier run
        except FileNotFoundError:
            pass
        bind("unix:" + args.unix)

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    server.start()
    print(f"LISTENING {port}" if port is not None else f"LISTENING unix:{args.unix}", flush=True)

    # Python runs signal handlers on the main thread only when it runs
    # bytecode, and the kernel may deliver SIGTERM to one of C-core's threads
    # instead, which would leave a long wait here blocked: poll instead.
    while not stopping.wait(0.2):
        pass
    server.stop(grace=1).wait()
    if args.unix:
        try:
            os.unlink(args.unix)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
