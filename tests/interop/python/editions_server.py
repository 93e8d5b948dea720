#!/usr/bin/env python3
"""A gRPC C-core server (the `grpcio` package) for a schema written in
Protobuf Editions: rpcurl.editions.v1.EditionsService from the descriptor set
descriptors/editions/editions.binpb (edition 2023 and 2024 files), loaded at
run time into Python protobuf's own descriptor pool. No code is generated.

Methods (see descriptors/editions/rpcurl/editions/v1/service.proto):
  Echo     answers the request as it came
  Repeat   answers with the request max(1, min(id, 100)) times
  Collect  answers with every request and their count
  Chat     answers each request as it comes

It also serves server reflection (grpcio-reflection: v1alpha) from the same
pool, so the files a client receives are the Editions files as written.

Usage:
  python editions_server.py --port PORT [--host 127.0.0.1]

Once serving it prints `LISTENING <port>` and flushes stdout. SIGTERM and
SIGINT stop it.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "rpcurl.editions.v1.EditionsService"
PACKAGE = "rpcurl.editions.v1"

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DESCRIPTORS = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "descriptors", "editions", "editions.binpb")
)


def load_pool(path):
    """A pool of the set's files, each added after the files it imports."""
    with open(path, "rb") as f:
        files = descriptor_pb2.FileDescriptorSet.FromString(f.read()).file
    by_name = {f.name: f for f in files}
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added or name not in by_name:
            return
        added.add(name)
        for dep in by_name[name].dependency:
            add(dep)
        pool.Add(by_name[name])

    for name in by_name:
        add(name)
    return pool


class EditionsService:
    def __init__(self, pool):
        self.batch = message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{PACKAGE}.Batch")
        )

    def Echo(self, request, context):
        return request

    def Repeat(self, request, context):
        times = max(1, min(request.id, 100))
        for _ in range(times):
            yield request

    def Collect(self, request_iterator, context):
        batch = self.batch()
        for request in request_iterator:
            batch.requests.add().CopyFrom(request)
        batch.count = len(batch.requests)
        return batch

    def Chat(self, request_iterator, context):
        for request in request_iterator:
            yield request


def generic_handler(pool):
    service = pool.FindServiceByName(SERVICE)
    impl = EditionsService(pool)
    handlers = {}
    for method in service.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        kwargs = dict(
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )
        behaviour = getattr(impl, method.name)
        if method.client_streaming and method.server_streaming:
            handler = grpc.stream_stream_rpc_method_handler(behaviour, **kwargs)
        elif method.client_streaming:
            handler = grpc.stream_unary_rpc_method_handler(behaviour, **kwargs)
        elif method.server_streaming:
            handler = grpc.unary_stream_rpc_method_handler(behaviour, **kwargs)
        else:
            handler = grpc.unary_unary_rpc_method_handler(behaviour, **kwargs)
        handlers[method.name] = handler
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--descriptors", default=DEFAULT_DESCRIPTORS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    from grpc_reflection.v1alpha import reflection, reflection_pb2

    pool = load_pool(args.descriptors)
    # The reflection service's own file, so that every listed service resolves.
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(reflection_pb2.DESCRIPTOR.serialized_pb))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)]
    )
    server.add_generic_rpc_handlers((generic_handler(pool),))

    reflection.enable_server_reflection((SERVICE, reflection.SERVICE_NAME), server, pool=pool)

    port = server.add_insecure_port(f"{args.host}:{args.port}")
    if not port:
        sys.exit(f"editions_server.py: cannot listen on {args.host}:{args.port}")

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server.start()
    print(f"LISTENING {port}", flush=True)
    # Signals reach Python only between bytecodes: poll (see server.py).
    while not stopping.wait(0.2):
        pass
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
