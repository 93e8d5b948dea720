#!/usr/bin/env node
// Interop test server for rpcurl on connect-node, the reference Connect
// implementation for Node.js. It serves rpcurl.test.v1.TestService over the
// Connect, gRPC and gRPC-Web protocols, with the same behaviour as the Rust
// in-process server in tests/it/support/server.rs.
//
// No code is generated: the schema is read at run time from the binary
// FileDescriptorSet descriptors/test.binpb, and the google.rpc error detail
// types from descriptors/builtin.binpb, into a protobuf-es registry.
//
// Usage:
//   node server.mjs --port PORT [--host 127.0.0.1] [--unix PATH]
//                   [--h2c | --tls-cert F --tls-key F [--client-ca F]]
//
// Without --h2c or TLS it serves HTTP/1.1; with --h2c, HTTP/2 without TLS
// (prior knowledge); with TLS, HTTP/2 or HTTP/1.1 as ALPN decides. Once
// serving it prints one line, `LISTENING <port>` (`LISTENING unix:<path>`
// with a Unix socket only), on stdout. SIGTERM and SIGINT stop it.

import { readFileSync, statSync, unlinkSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as wkt from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  connectNodeAdapter,
} from "@connectrpc/connect-node";

const SERVICE = "rpcurl.test.v1.TestService";
const PACKAGE = "rpcurl.test.v1";
const TYPE_URL_PREFIX = "type.googleapis.com/";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DESCRIPTORS = path.join(HERE, "..", "..", "..", "descriptors");

// ----- schema -----

/**
 * One registry with the files of every given FileDescriptorSet (the first
 * copy of a file wins), plus any well-known type they import that none of
 * them holds, taken from the copies protobuf-es has built in.
 */
function loadRegistry(paths) {
  const byName = new Map();
  for (const p of paths) {
    const set = fromBinary(wkt.FileDescriptorSetSchema, readFileSync(p));
    for (const file of set.file) {
      if (!byName.has(file.name)) byName.set(file.name, file);
    }
  }
  const builtin = new Map();
  for (const [key, value] of Object.entries(wkt)) {
    if (key.startsWith("file_google_protobuf_") && value?.proto) {
      builtin.set(value.proto.name, value.proto);
    }
  }
  // Dependencies first, as createFileRegistry wants them.
  const ordered = [];
  const seen = new Set();
  const visit = (name, from) => {
    if (seen.has(name)) return;
    seen.add(name);
    const file = byName.get(name) ?? builtin.get(name);
    if (file === undefined) {
      throw new Error(`${from} imports ${name}, which no descriptor set holds`);
    }
    for (const dep of file.dependency) visit(dep, name);
    ordered.push(file);
  };
  for (const name of byName.keys()) visit(name, name);
  return createFileRegistry(create(wkt.FileDescriptorSetSchema, { file: ordered }));
}

const registry = loadRegistry([
  path.join(DESCRIPTORS, "test.binpb"),
  path.join(DESCRIPTORS, "builtin.binpb"),
]);

function message(name) {
  const desc = registry.getMessage(name);
  if (desc === undefined) throw new Error(`no message ${name} in the registry`);
  return desc;
}

const service = registry.getService(SERVICE);
if (service === undefined) throw new Error(`no service ${SERVICE} in the registry`);

const Nested = message(`${PACKAGE}.Everything.Nested`);
const Extra = message(`${PACKAGE}.Extra`);
const TestDetail = message(`${PACKAGE}.TestDetail`);
const ErrorInfo = message("google.rpc.ErrorInfo");
const BadRequest = message("google.rpc.BadRequest");

function packAny(desc, init) {
  return create(wkt.AnySchema, {
    typeUrl: TYPE_URL_PREFIX + desc.typeName,
    value: toBinary(desc, create(desc, init)),
  });
}

// ----- helpers -----

// Code has no member for OK: a ConnectError carries it as a plain 0.
const OK = 0;

// A gRPC status code by its number. Numbers outside the gRPC range become
// UNKNOWN, as tonic's Code::from_i32 does.
function statusCode(n) {
  return Number.isInteger(n) && n >= 0 && n <= 16 ? n : Code.Unknown;
}

/** Resolves after ms milliseconds; rejects when signal aborts first. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal.reason ?? "canceled", Code.Canceled));
    };
    if (signal.aborted) {
      abort();
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, Math.max(ms, 0));
    signal.addEventListener("abort", abort, { once: true });
  });
}

// The request's raw header list: the Headers object of the handler context
// joins repeated names into one value, and tonic's metadata keeps them apart.
const rawHeadersKey = createContextKey([], { description: "raw request headers" });

// A value as tonic's HeaderValue::to_str sees it: visible ASCII and tab, or
// nothing.
function asciiOrEmpty(value) {
  return /^[\t\x20-\x7e]*$/.test(value) ? value : "";
}

// ----- the service -----

const impl = {
  echo(request) {
    return request;
  },

  async *count(request, context) {
    const { count, intervalMs, failAfter, failCode, text } = request;
    // `count` responses, or `fail_after` responses and then the failure.
    const limit = failAfter > 0 && failAfter < count ? failAfter + 1 : count;
    for (let i = 0; i < limit; i++) {
      if (intervalMs > 0 && i > 0) await sleep(intervalMs, context.signal);
      if (failAfter > 0 && i === failAfter) {
        const code = statusCode(failCode);
        if (code === OK && context.protocolName === "connect") return;
        throw new ConnectError("stream failed as asked", code);
      }
      yield { index: i, text };
    }
  },

  async sum(requests) {
    let total = 0n;
    let count = 0;
    for await (const item of requests) {
      total += item.value;
      count += 1;
    }
    return { total, count };
  },

  async *chat(requests) {
    let seq = 0;
    for await (const item of requests) {
      seq += 1;
      yield { text: `echo: ${item.text}`, seq };
    }
  },

  fail(request, context) {
    const code = statusCode(request.code);
    const details = [];
    if (request.withDetails) {
      details.push({
        desc: ErrorInfo,
        value: { reason: "TEST_REASON", domain: "rpcurl.test", metadata: { key: "value" } },
      });
      details.push({
        desc: BadRequest,
        value: { fieldViolations: [{ field: "name", description: "must not be empty" }] },
      });
    }
    if (request.withCustomDetails) {
      details.push({ desc: TestDetail, value: { hint: "try again", attempt: 2 } });
      // A detail of a type no schema defines: connect-es sends a raw
      // {type, value} as it is (the shape it gives incoming details).
      details.push({ type: `${PACKAGE}.Unknowable`, value: new Uint8Array([1, 2, 3]) });
    }
    // A trailer, not a header: gRPC and gRPC-Web send it in the trailers, and
    // Connect as `trailer-x-trailer` (unary) or in the end-of-stream message.
    context.responseTrailer.set("x-trailer", "bye");
    if (code === OK && context.protocolName === "connect") {
      // The Connect protocol has no error with code OK (connect-node would
      // send HTTP 500 with {"code":"0"}): succeed instead, with an Empty.
      return {};
    }
    // On gRPC and gRPC-Web an error with code 0 goes out as grpc-status 0,
    // grpc-message and no response message, as tonic sends it.
    throw new ConnectError(request.message, code, undefined, details);
  },

  headers(_request, context) {
    const raw = context.values.get(rawHeadersKey);
    const headers = {};
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (name.startsWith(":")) continue; // HTTP/2 pseudo-headers
      let value = raw[i + 1];
      if (name.endsWith("-bin")) {
        // Binary metadata arrives decoded, as tonic's to_bytes gives it.
        value = new TextDecoder().decode(Buffer.from(value, "base64"));
      } else {
        value = asciiOrEmpty(value);
      }
      (headers[name] ??= { values: [] }).values.push(value);
    }
    context.responseHeader.set("x-response-header", "hello");
    return { headers };
  },

  async sleep(request, context) {
    await sleep(request.ms, context.signal);
    return {};
  },

  wrap(request) {
    let value;
    switch (request.kind) {
      case 1:
        value = packAny(Nested, { label: "local", n: 1 });
        break;
      case 2:
        value = packAny(Extra, { note: "extra", numbers: [1n, 2n] });
        break;
      case 3:
        value = create(wkt.AnySchema, {
          typeUrl: `${TYPE_URL_PREFIX}${PACKAGE}.Nowhere`,
          value: new Uint8Array([0x08, 0x01]),
        });
        break;
      default:
        throw new ConnectError("kind must be set", Code.InvalidArgument);
    }
    return { value };
  },
};

// router.service wants one function per method, named by localName.
for (const method of service.methods) {
  if (typeof impl[method.localName] != "function") {
    throw new Error(`no implementation for ${SERVICE}/${method.name}`);
  }
}

const handler = connectNodeAdapter({
  routes(router) {
    router.service(service, impl);
  },
  // Connect, gRPC and gRPC-Web are all enabled by default.
  acceptCompression: [compressionGzip, compressionBrotli],
  // Compress every response message when the client accepts gzip, as tonic
  // does, rather than only messages of 1 KiB or more.
  compressMinBytes: 0,
  // Large limits, so tests can make the client's limit the one hit.
  readMaxBytes: 64 << 20,
  writeMaxBytes: 64 << 20,
  // The JSON codec (Connect with application/json) needs the registry to
  // write and read google.protobuf.Any.
  jsonOptions: { registry },
  contextValues(req) {
    return createContextValues().set(rawHeadersKey, req.rawHeaders ?? []);
  },
});

// ----- options and listening -----

function usage(message) {
  process.stderr.write(`server.mjs: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      unix: { type: "string" },
      h2c: { type: "boolean", default: false },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "client-ca": { type: "string" },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e.message);
}
if (args.port === undefined && args.unix === undefined) usage("give --port, --unix or both");
if (args.port !== undefined && !/^\d+$/.test(args.port)) usage(`bad --port ${args.port}`);
if (Boolean(args["tls-cert"]) !== Boolean(args["tls-key"])) {
  usage("--tls-cert and --tls-key go together");
}
const tls = Boolean(args["tls-cert"]);
if (tls && args.h2c) usage("--h2c is for plaintext; TLS serves HTTP/2 already");
if (args["client-ca"] && !tls) usage("--client-ca needs --tls-cert and --tls-key");

function newServer() {
  if (tls) {
    const options = {
      cert: readFileSync(args["tls-cert"]),
      key: readFileSync(args["tls-key"]),
      allowHTTP1: true, // ALPN offers h2 and http/1.1
    };
    if (args["client-ca"]) {
      options.ca = readFileSync(args["client-ca"]);
      options.requestCert = true;
      options.rejectUnauthorized = true;
    }
    return http2.createSecureServer(options, handler);
  }
  if (args.h2c) return http2.createServer(handler);
  return http.createServer(handler);
}

function listen(server, target) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(target, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

let port;
try {
  if (args.port !== undefined) {
    const server = newServer();
    await listen(server, { host: args.host, port: Number(args.port) });
    port = server.address().port;
  }
  if (args.unix !== undefined) {
    try {
      if (statSync(args.unix).isSocket()) unlinkSync(args.unix); // a stale socket
    } catch {
      // no such file
    }
    await listen(newServer(), args.unix);
  }
} catch (e) {
  process.stderr.write(`server.mjs: cannot listen: ${e.message}\n`);
  process.exit(1);
}

process.stdout.write(port !== undefined ? `LISTENING ${port}\n` : `LISTENING unix:${args.unix}\n`);

// Stop at once: open calls and connections end with the process.
function stop() {
  if (args.unix !== undefined) {
    try {
      unlinkSync(args.unix);
    } catch {
      // already gone
    }
  }
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
