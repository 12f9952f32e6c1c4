#!/usr/bin/env python3
"""A gRPC peer built on grpcio (gRPC C-core), independent of Node and of grpc-js.

    peer.py server             serve peer.Echo on 127.0.0.1:0; prints "LISTENING 127.0.0.1:PORT",
                               then one JSON line per event the test waits for ({"event": ...});
                               exits when stdin closes.
    peer.py client PORT        call user.User and peer.Echo at 127.0.0.1:PORT with every call kind;
                               prints one JSON line per check ({"check": name, ...what it saw}).

No generated code: the messages come from a FileDescriptorProto built here (the same messages as
test/python/peer.proto and examples/user/user.proto), the service from grpc's generic
handlers. Only the standard library, grpc and google.protobuf.
"""

import base64
import json
import os
import queue
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ECHO = "peer.Echo"
USER = "user.User"
# Longest any handler or wait here may take, so nothing hangs the test.
MAX_WAIT_S = 10.0

F = descriptor_pb2.FieldDescriptorProto


def _file(name, package, messages):
    fd = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    for msg_name, fields in messages:
        m = fd.message_type.add(name=msg_name)
        for number, (field_name, field_type) in enumerate(fields, start=1):
            m.field.add(name=field_name, number=number, type=field_type, label=F.LABEL_OPTIONAL)
    return fd


_pool = descriptor_pool.DescriptorPool()
_pool.Add(
    _file(
        "peer.proto",
        "peer",
        [
            (
                "Msg",
                [
                    ("text", F.TYPE_STRING),
                    ("n", F.TYPE_INT32),
                    ("blob", F.TYPE_BYTES),
                    ("deadline_ms", F.TYPE_INT32),
                    ("compressed", F.TYPE_BOOL),
                ],
            )
        ],
    )
)
_pool.Add(
    _file(
        "user.proto",
        "user",
        [
            ("GetUserReq", [("id", F.TYPE_STRING)]),
            ("GetUserResp", [("id", F.TYPE_STRING), ("name", F.TYPE_STRING), ("phone", F.TYPE_STRING)]),
        ],
    )
)


def _message_class(full_name):
    descriptor = _pool.FindMessageTypeByName(full_name)
    # GetMessageClass is the newer spelling; Debian 12's protobuf 3.21 has only GetPrototype.
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(_pool).GetPrototype(descriptor)


Msg = _message_class("peer.Msg")
GetUserReq = _message_class("user.GetUserReq")
GetUserResp = _message_class("user.GetUserResp")


def _parse(cls):
    return cls.FromString


def _serialize(message):
    return message.SerializeToString()


CODES = {code.value[0]: code for code in grpc.StatusCode}


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def md_json(metadata):
    """Metadata as JSON: [key, value] pairs in order, bytes as "b64:<base64>"; only x-* keys."""
    out = []
    for key, value in metadata or ():
        if not key.startswith("x-"):
            continue
        if isinstance(value, bytes):
            value = "b64:" + base64.b64encode(value).decode("ascii")
        out.append([key, value])
    return out


def msg_json(m):
    return {
        "text": m.text,
        "n": m.n,
        "blob_len": len(m.blob),
        "blob_ok": m.blob == b"a" * len(m.blob),
        "deadline_ms": m.deadline_ms,
        "compressed": m.compressed,
    }


# ---------------------------------------------------------------------------------------------
# Server


def _echo_metadata(context):
    """Every x-* request entry goes back in the response headers and again in the trailers."""
    echoed = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]
    if any(k == "x-compress-reply" for k, _ in echoed):
        context.set_compression(grpc.Compression.Gzip)
    context.send_initial_metadata(echoed)
    context.set_trailing_metadata(echoed)


def _remaining_ms(context):
    remaining = context.time_remaining()
    # Without a deadline C-core reports an enormous time remaining.
    if remaining is None or remaining > 10 * 365 * 24 * 3600:
        return -1
    return max(0, int(remaining * 1000))


def _unary(request, context):
    _echo_metadata(context)
    return Msg(text=request.text + "!", n=request.n + 1, blob=request.blob, deadline_ms=_remaining_ms(context))


def _server_stream(request, context):
    _echo_metadata(context)
    if request.text == "forever":
        # Replies until the caller cancels; the test waits for the "stream_ended" event.
        ended = threading.Event()
        context.add_callback(ended.set)
        deadline = time.monotonic() + MAX_WAIT_S
        i = 0
        try:
            while not ended.is_set() and time.monotonic() < deadline:
                yield Msg(text="forever", n=i)
                i += 1
                ended.wait(0.01)
        finally:
            # Also when grpcio drops the generator on a cancel instead of running it to its end.
            emit({"event": "stream_ended", "active": context.is_active(), "sent": i})
        return
    for i in range(request.n):
        yield Msg(text=request.text, n=i)
    if request.text == "fail":
        # An error after replies travels in the trailers, not in a trailers-only response.
        context.abort(grpc.StatusCode.DATA_LOSS, "after %d ☺" % request.n)


def _client_stream(requests, context):
    _echo_metadata(context)
    texts, total = [], 0
    for m in requests:
        texts.append(m.text)
        total += m.n
    return Msg(text=",".join(texts), n=total)


def _bidi(requests, context):
    _echo_metadata(context)
    for m in requests:
        yield Msg(text=m.text.upper(), n=m.n)


def _fail(request, context):
    context.set_trailing_metadata([("x-why", "because"), ("x-why-bin", b"\x00\x01\xfe\xff")])
    context.abort(CODES[request.n], request.text)


def _sleep(request, context):
    """Sleeps n ms, or until the call ends (deadline, cancel); reports which in an event."""
    ended = threading.Event()
    context.add_callback(ended.set)
    had_deadline = _remaining_ms(context) >= 0
    ended.wait(min(request.n / 1000.0, MAX_WAIT_S))
    emit({"event": "sleep_ended", "active": context.is_active(), "had_deadline": had_deadline})
    return Msg(n=request.n)


def serve():
    handler = grpc.method_handlers_generic_handler(
        ECHO,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_unary, _parse(Msg), _serialize),
            "ServerStream": grpc.unary_stream_rpc_method_handler(_server_stream, _parse(Msg), _serialize),
            "ClientStream": grpc.stream_unary_rpc_method_handler(_client_stream, _parse(Msg), _serialize),
            "Bidi": grpc.stream_stream_rpc_method_handler(_bidi, _parse(Msg), _serialize),
            "Fail": grpc.unary_unary_rpc_method_handler(_fail, _parse(Msg), _serialize),
            "Sleep": grpc.unary_unary_rpc_method_handler(_sleep, _parse(Msg), _serialize),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    if port == 0:
        sys.stderr.write("could not bind 127.0.0.1:0\n")
        sys.exit(1)
    server.start()
    sys.stdout.write("LISTENING 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    # The parent owns our lifetime: when it goes (stdin closes), so do we.
    try:
        sys.stdin.read()
    finally:
        server.stop(0).wait(5)
        os._exit(0)


# ---------------------------------------------------------------------------------------------
# Client


def _status(err):
    return {
        "code": err.code().name,
        "details": err.details(),
        "trailer": md_json(err.trailing_metadata()),
    }


def check(name, fn):
    """Runs one check; whatever it returns (or the RPC error it raised) is the JSON line."""
    try:
        out = fn()
    except grpc.RpcError as err:
        out = _status(err)
    except Exception as err:  # a bug here is reported as that check's line, the others still run
        out = {"exception": "%s: %s" % (type(err).__name__, err)}
    out["check"] = name
    emit(out)


def client(port):
    channel = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(channel).result(timeout=MAX_WAIT_S)

    def unary(service, method, req_cls, resp_cls):
        return channel.unary_unary("/%s/%s" % (service, method), _serialize, _parse(resp_cls))

    get_user = unary(USER, "GetUser", GetUserReq, GetUserResp)
    echo = unary(ECHO, "Unary", Msg, Msg)
    fail = unary(ECHO, "Fail", Msg, Msg)
    sleep = unary(ECHO, "Sleep", Msg, Msg)
    server_stream = channel.unary_stream("/%s/ServerStream" % ECHO, _serialize, _parse(Msg))
    client_stream = channel.stream_unary("/%s/ClientStream" % ECHO, _serialize, _parse(Msg))
    bidi = channel.stream_stream("/%s/Bidi" % ECHO, _serialize, _parse(Msg))
    nope = unary(ECHO, "Nope", Msg, Msg)

    def user(uid):
        def run():
            r = get_user(GetUserReq(id=uid), timeout=MAX_WAIT_S)
            return {"code": "OK", "reply": {"id": r.id, "name": r.name, "phone": r.phone}}

        return run

    check("get_user_1", user("1"))
    check("get_user_2", user("2"))
    check("get_user_missing", user("404"))

    def unary_plain():
        r = echo(Msg(text="hi", n=41), timeout=MAX_WAIT_S)
        return {"code": "OK", "reply": msg_json(r)}

    check("unary", unary_plain)

    def unary_no_deadline():
        r = echo(Msg(text="hi"))
        return {"code": "OK", "reply": msg_json(r)}

    check("unary_no_deadline", unary_no_deadline)

    def metadata():
        md = [
            ("x-text", "hello"),
            ("x-multi", "a"),
            ("x-multi", "b"),
            ("x-blob-bin", b"\x00\x01\xfe\xff"),
            ("x-empty-bin", b""),
        ]
        r, call = echo.with_call(Msg(text="md"), metadata=md, timeout=MAX_WAIT_S)
        return {
            "code": call.code().name,
            "reply": msg_json(r),
            "header": md_json(call.initial_metadata()),
            "trailer": md_json(call.trailing_metadata()),
        }

    check("metadata", metadata)

    def server_streaming():
        call = server_stream(Msg(text="s", n=5), timeout=MAX_WAIT_S, metadata=[("x-kind", "server")])
        replies = [msg_json(m) for m in call]
        return {"code": call.code().name, "replies": replies, "header": md_json(call.initial_metadata()), "trailer": md_json(call.trailing_metadata())}

    check("server_stream", server_streaming)

    def empty_server_stream():
        call = server_stream(Msg(text="s", n=0), timeout=MAX_WAIT_S)
        return {"code": call.code().name, "replies": [msg_json(m) for m in call]}

    check("server_stream_empty", empty_server_stream)

    def server_stream_error():
        call = server_stream(Msg(text="fail", n=3), timeout=MAX_WAIT_S)
        replies = []
        try:
            for m in call:
                replies.append(msg_json(m))
            return {"code": "OK", "replies": replies}
        except grpc.RpcError as err:
            return dict(_status(err), replies=replies)

    check("server_stream_error", server_stream_error)

    def client_streaming():
        requests = iter([Msg(text="m%d" % i, n=i) for i in range(1, 5)])
        r, call = client_stream.with_call(requests, timeout=MAX_WAIT_S, metadata=[("x-kind", "client")])
        return {"code": call.code().name, "reply": msg_json(r), "trailer": md_json(call.trailing_metadata())}

    check("client_stream", client_streaming)

    def empty_client_stream():
        r = client_stream(iter([]), timeout=MAX_WAIT_S)
        return {"code": "OK", "reply": msg_json(r)}

    check("client_stream_empty", empty_client_stream)

    def ping_pong():
        # Each request is handed over only after the reply to the one before has arrived.
        outbox = queue.Queue()
        stop = object()

        def requests():
            while True:
                m = outbox.get(timeout=MAX_WAIT_S)
                if m is stop:
                    return
                yield m

        call = bidi(requests(), timeout=MAX_WAIT_S, metadata=[("x-kind", "bidi")])
        replies = []
        for i, word in enumerate(["ping", "pong", "again"]):
            outbox.put(Msg(text=word, n=i))
            replies.append(msg_json(next(call)))
        outbox.put(stop)
        rest = [msg_json(m) for m in call]
        return {"code": call.code().name, "replies": replies, "rest": rest, "header": md_json(call.initial_metadata())}

    check("bidi_ping_pong", ping_pong)

    def error():
        fail(Msg(text="bad ☺ thing 😈 ünïcödé\t100%", n=grpc.StatusCode.FAILED_PRECONDITION.value[0]), timeout=MAX_WAIT_S)
        return {"code": "OK"}

    check("error", error)

    def deadline():
        sleep(Msg(n=int(MAX_WAIT_S * 1000)), timeout=0.3)
        return {"code": "OK"}

    check("deadline", deadline)

    def cancel():
        call = server_stream(Msg(text="forever"), timeout=MAX_WAIT_S)
        first = msg_json(next(call))
        call.cancel()
        try:
            for _ in call:
                pass
            code = "OK"
        except grpc.RpcError as err:
            code = err.code().name
        return {"code": code, "first": first}

    check("cancel", cancel)

    def gzip(compression):
        def run():
            blob = b"a" * 65536
            r = echo(Msg(text="z", blob=blob), timeout=MAX_WAIT_S, compression=compression, metadata=[("x-compress-reply", "1")])
            return {"code": "OK", "reply": msg_json(r)}

        return run

    def large():
        # Far beyond HTTP/2's initial 64 KiB windows both ways: flow control has to work.
        r = echo(Msg(text="big", blob=b"a" * (1 << 20)), timeout=MAX_WAIT_S)
        return {"code": "OK", "reply": msg_json(r)}

    check("large_unary", large)
    check("gzip", gzip(grpc.Compression.Gzip))
    check("no_compression", gzip(grpc.Compression.NoCompression))

    def unimplemented():
        nope(Msg(), timeout=MAX_WAIT_S)
        return {"code": "OK"}

    check("unimplemented", unimplemented)

    channel.close()
    emit({"done": True})


def main(argv):
    if len(argv) == 2 and argv[1] == "server":
        serve()
    elif len(argv) == 3 and argv[1] == "client" and argv[2].isdigit():
        client(int(argv[2]))
    else:
        sys.stderr.write("usage: peer.py server | peer.py client PORT\n")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
