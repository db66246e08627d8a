"""A local OCPP 1.6-J and 2.0.1 central system (CSMS) for mpy_ocpp's tests and demos.

Built on PyPI `ocpp` 2.1.0 (schema validation, @on routing) and `websockets` 17.
On top of what `ocpp` checks, every frame in both directions goes through
`check_frame()` (framing, ids, error frames, ISO 8601 UTC times, schemas);
problems land in `CSMS.violations`.

In-process (pytest):
    csms = CSMS(auth={"CP_1": "secret"}); csms.start()
    ... connect a charge point to csms.url + "/CP_1" ...
    csms.wait_action("CP_1", "BootNotification")
    csms.call("CP_1", "Reset", {"type": "Soft"})
    csms.stop()

Command line (prints `CP_1 < frame` for frames received from the charge
point, `CP_1 > frame` for frames sent to it, `!! ...` for violations):
    python tools/csms.py --port 9000 --auth CP_1:secret --cert c.pem --key k.pem
"""

import argparse
import asyncio
import base64
import concurrent.futures
import copy
import datetime
import glob
import inspect
import json
import logging
import os
import re
import signal
import threading
import time
import uuid
from collections import namedtuple
from urllib.parse import quote, unquote

import ocpp.messages
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import NotImplementedError as OCPPNotImplemented
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult
from ocpp.routing import on
from ocpp.v16 import ChargePoint
from ocpp.v16 import call_result as call_result_16
from ocpp.v201 import ChargePoint as ChargePoint201
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, NegotiationError

# Validate inline: payloads are small and a thread pool hop only adds latency.
ocpp.messages.ASYNC_VALIDATION = False

_LOG = logging.getLogger("csms")
# `ocpp` logs a traceback for every CALL it refuses; frames and violations
# already say it all.
_OCPP_LOG = logging.getLogger("csms.ocpp")
_OCPP_LOG.setLevel(logging.CRITICAL)

ERROR_CODES = frozenset((
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError",
    "SecurityError", "FormationViolation", "PropertyConstraintViolation",
    "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
))
# OCPP-J 2.0.1 (Part 4) spells two of them right and adds two
ERROR_CODES_201 = frozenset((
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation",
))
VERSIONS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}  # subprotocol -> the `ocpp` package's name
# `ocpp` emits OCPP 2.0.1 spellings; a 1.6 peer must see the 1.6 ones.
_CODE_16 = {"FormatViolation": "FormationViolation",
            "OccurrenceConstraintViolation": "OccurenceConstraintViolation"}

# CP -> CSMS actions answered by default (core profile + security extension).
CP_ACTIONS = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "LogStatusNotification",
    "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
)
# The same for OCPP 2.0.1: every CP -> CSMS action of its schemas.
CP_ACTIONS_201 = (
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
    "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat",
    "LogStatusNotification", "MeterValues", "NotifyChargingLimit", "NotifyCustomerInformation",
    "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "NotifyEvent",
    "NotifyMonitoringReport", "NotifyReport", "PublishFirmwareStatusNotification",
    "ReportChargingProfiles", "ReservationStatusUpdate", "SecurityEventNotification",
    "SignCertificate", "StatusNotification", "TransactionEvent",
)

_MAX_ID = 36
_ARITY = {2: 4, 3: 3, 4: 5}
_ISO_Z = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?Z\Z")
_FALLBACK_DATE_KEYS = (
    "timestamp", "currentTime", "expiryDate", "startSchedule", "validFrom", "validTo",
    "retrieveDate", "startTime", "stopTime")


def _schema_date_keys(version):
    """Property names with format date-time in the schemas of `version` ("v16",
    "v201"; in neither is such a name used with another type anywhere, so the
    key alone identifies them)."""
    keys = set(_FALLBACK_DATE_KEYS) if version == "v16" else set()

    def walk(node):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and sub.get("format") == "date-time":
                    keys.add(name)
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    here = os.path.dirname(os.path.realpath(ocpp.messages.__file__))
    for path in glob.glob(os.path.join(here, version, "schemas", "*.json")):
        with open(path, encoding="utf-8-sig") as f:
            walk(json.load(f))
    return frozenset(keys)


DATE_KEYS = _schema_date_keys("v16")
DATE_KEYS_201 = _schema_date_keys("v201")

NO_REPLY = object()  # a handler returning this leaves the CP's CALL unanswered

Received = namedtuple("Received", "cp_id unique_id action payload")


class CallErrorReply(Exception):
    """A CALLERROR: raised by CSMS.call(), or raised by a scripted handler to
    answer the charge point with one."""

    def __init__(self, code, description="", details=None):
        super().__init__(code, description, details)
        self.code = code
        self.description = description
        self.details = {} if details is None else details

    def __str__(self):
        return "%s: %s %s" % (self.code, self.description, self.details)


def utc_now():
    """Current UTC time as OCPP wants it: ISO 8601 with milliseconds and Z."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def is_utc_time(text):
    """True if `text` is an ISO 8601 UTC date-time ending in Z with valid fields."""
    m = _ISO_Z.match(text) if isinstance(text, str) else None
    if not m:
        return False
    try:
        datetime.datetime(*(int(g) for g in m.groups()[:6]))
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- frame checker

class FrameState:
    """What the checker remembers about one connection."""

    def __init__(self, version="1.6"):
        self.version = version  # "1.6" or "2.0.1": the schemas and error codes that apply
        self.calls = {"in": {}, "out": {}}  # direction -> {CALL id: action}
        self.answered = {"in": set(), "out": set()}  # ids answered in that direction


def _dates(node, problems, keys=DATE_KEYS):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str) and not is_utc_time(value):
                problems.append("%s %r is not ISO 8601 UTC ending in Z" % (key, value))
            _dates(value, problems, keys)
    elif isinstance(node, list):
        for value in node:
            _dates(value, problems, keys)


def _schema(message, problems, version="1.6"):
    """Validate with the `ocpp` package's official schemas (it mutates floats
    into Decimals for some actions, hence the copy)."""
    message.payload = copy.deepcopy(message.payload)
    try:
        ocpp.messages._validate_payload(message, version)
    except OCPPNotImplemented:
        problems.append("unknown action %r" % message.action)
    except OCPPError as e:
        err = e.__context__  # the jsonschema error says it in one line
        if isinstance(err, SchemaValidationError):
            where = "/".join(str(p) for p in err.absolute_path) or "payload"
            cause = "%s: %s" % (where, err.message)
        else:
            cause = e.details.get("cause", e.description)
        problems.append("schema %s %s (%s) %s" % (
            message.action, "response" if isinstance(message, CallResult) else "request",
            _CODE_16.get(e.code, e.code) if version == "1.6" else e.code, cause))


def _check(text, direction, state, schemas):
    """(problems, parsed message or None). See check_frame()."""
    try:
        msg = json.loads(text)
    except (TypeError, ValueError, RecursionError):  # a hostile frame nested too deep
        return ["not valid JSON"], None
    if not isinstance(msg, list) or not msg:
        return ["not a non-empty JSON array"], None
    kind = msg[0]
    if type(kind) is not int or kind not in _ARITY:
        return ["unknown MessageTypeId %r" % (kind,)], None
    if len(msg) != _ARITY[kind]:
        return ["MessageTypeId %d needs %d items, got %d" % (kind, _ARITY[kind], len(msg))], None
    problems = []
    v = state.version
    keys = DATE_KEYS if v == "1.6" else DATE_KEYS_201
    uid = msg[1]
    if not isinstance(uid, str):
        problems.append("message id %r is not a string" % (uid,))
        uid = None
    other = "out" if direction == "in" else "in"
    if kind == 2:
        if uid is not None and not 0 < len(uid) <= _MAX_ID:
            problems.append("message id must be 1..36 characters, got %d" % len(uid))
        action, payload = msg[2], msg[3]
        if not isinstance(action, str):
            problems.append("action %r is not a string" % (action,))
        if not isinstance(payload, dict):
            problems.append("payload is not an object")
        if uid is not None:
            if uid in state.calls[direction]:
                problems.append("CALL id %r reused on this connection" % uid)
            state.calls[direction][uid] = action
        _dates(payload, problems, keys)
        if schemas and isinstance(action, str) and isinstance(payload, dict):
            _schema(Call(uid, action, payload), problems, v)
        return problems, msg
    action = state.calls[other].get(uid)
    if uid is not None:
        if uid not in state.calls[other]:
            problems.append("answers id %r that was never sent to it" % uid)
        elif uid in state.answered[direction]:
            problems.append("id %r answered twice" % uid)
        state.answered[direction].add(uid)
    if kind == 3:
        payload = msg[2]
        if not isinstance(payload, dict):
            problems.append("payload is not an object")
        _dates(payload, problems, keys)
        if schemas and isinstance(action, str) and isinstance(payload, dict):
            _schema(CallResult(uid, payload, action), problems, v)
        return problems, msg
    code, description, details = msg[2:]
    if code not in (ERROR_CODES if v == "1.6" else ERROR_CODES_201):
        problems.append("error code %r is not an OCPP %s code" % (code, v))
    if not isinstance(description, str):
        problems.append("error description is not a string")
    if not isinstance(details, dict):
        problems.append("error details is not an object")
    return problems, msg


def check_frame(text, direction="in", state=None, schemas=True, version="1.6"):
    """Check one OCPP-J frame; return a list of problems (empty = fine).

    direction: "in" (charge point -> CSMS) or "out" (CSMS -> charge point).
    state: a FrameState shared by all frames of one connection (id
    uniqueness, answers to ids actually sent); None checks the frame alone,
    so any CALLRESULT/CALLERROR then "answers an id never sent". version: "1.6"
    or "2.0.1" for a frame alone (a state carries its own).
    """
    return _check(text, direction, state or FrameState(version), schemas)[0]


# ---------------------------------------------------------------- one connection

class _Conn:
    """One charge point connection: `ocpp` routing plus recording and raw calls (mixed into
    the `ocpp` package's ChargePoint of the version the handshake chose)."""
    version = "1.6"

    def __init__(self, cp_id, ws, csms):
        super().__init__(cp_id, ws, response_timeout=10, logger=_OCPP_LOG)
        self.ws = ws
        self.csms = csms
        self.state = FrameState(self.version)
        self.pending = {}  # CSMS CALL id -> future of the answer frame
        self.flagged = set()  # CP CALL ids the checker already complained about
        self.lock = asyncio.Lock()  # one CSMS CALL in flight (OCPP-J rule)
        self.msg = None  # the CALL being handled

    async def start(self):
        while True:
            text = await self._connection.recv()
            if isinstance(text, bytes):
                self.csms._violation(self.id, "in", "binary frame (OCPP-J uses text)", repr(text[:80]))
                text = text.decode("utf-8", "replace")
            self.csms._record(self, "in", text)
            await self.route_message(text)

    async def route_message(self, raw_msg):
        try:
            msg = json.loads(raw_msg)
        except ValueError:
            return  # recorded by the checker; OCPP-J has no answer for it
        if not isinstance(msg, list) or len(msg) < 2 or not isinstance(msg[1], str):
            return  # no id to answer to
        if msg[0] in (3, 4):
            fut = self.pending.get(msg[1])
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif msg[0] == 2 and len(msg) > 2 and not isinstance(msg[2], str):
            frame = [4, msg[1], "FormationViolation", "action is not a string", {}]
            await self._send(json.dumps(frame), scripted=True)
        else:
            await super().route_message(raw_msg)

    async def _handle_call(self, msg):
        self.msg = msg
        handler = self.csms.handlers.get(msg.action)
        if handler is None:
            return await super()._handle_call(msg)
        try:
            reply = handler(self.id, msg.payload)
            if inspect.isawaitable(reply):
                reply = await reply
        except CallErrorReply as e:
            frame = [4, msg.unique_id, e.code, e.description, e.details]
            return await self._send(json.dumps(frame), scripted=True)
        if reply is not NO_REPLY:
            await self._send(json.dumps([3, msg.unique_id, reply]), scripted=True)

    def reply_default(self, action):
        """Body of the @on handlers below: the scripted default as a dataclass."""
        reply = self.csms.default_reply(self.id, action, self.msg.payload)
        return getattr(call_result_16, action)(**camel_to_snake_case(reply))

    async def _send(self, message, scripted=False, check=True):
        if not scripted and message.startswith("[4,") and self.version == "1.6":
            message = self._unscripted_error(message)
        self.csms._record(self, "out", message, check)
        await self._connection.send(message)

    def _unscripted_error(self, message):
        """`ocpp` refused a CP CALL: use 1.6 spellings, and make it a violation
        unless the checker already explained why."""
        frame = json.loads(message)
        frame[2] = _CODE_16.get(frame[2], frame[2])
        if frame[1] not in self.flagged:
            self.csms._violation(self.id, "out", "CSMS answered a CP CALL with %s: %s %s"
                                 % tuple(frame[2:5]), "")
        return json.dumps(frame, separators=(",", ":"))

    async def raw_call(self, action, payload, timeout, check):
        async with self.lock:
            uid = str(uuid.uuid4())
            fut = asyncio.get_running_loop().create_future()
            self.pending[uid] = fut
            try:
                await self._send(json.dumps([2, uid, action, payload]), scripted=True, check=check)
                return await asyncio.wait_for(fut, timeout)
            finally:
                del self.pending[uid]


class _CP(_Conn, ChargePoint):
    pass


class _CP201(_Conn, ChargePoint201):
    """OCPP 2.0.1: every CALL of the charge point is answered here from the scripted defaults
    (dicts, not the `ocpp` package's dataclasses), after the package's own checks."""
    version = "2.0.1"

    async def _handle_call(self, msg):
        self.msg = msg
        try:
            if msg.action not in CP_ACTIONS_201:
                raise CallErrorReply("NotImplemented", "unknown action %s" % msg.action)
            try:
                ocpp.messages._validate_payload(Call(msg.unique_id, msg.action, copy.deepcopy(msg.payload)),
                                                self.version)
            except OCPPError as e:
                raise CallErrorReply(e.code, e.description)
            handler = self.csms.handlers.get(msg.action)
            reply = (handler(self.id, msg.payload) if handler
                     else self.csms.default_reply_201(self.id, msg.action, msg.payload))
            if inspect.isawaitable(reply):
                reply = await reply
        except CallErrorReply as e:
            frame = [4, msg.unique_id, e.code, e.description, e.details]
            return await self._send(json.dumps(frame), scripted=True)
        if reply is not NO_REPLY:
            await self._send(json.dumps([3, msg.unique_id, reply]), scripted=True)


def _make_default_handler(action):
    def handler(self, **_):
        return self.reply_default(action)
    handler.__name__ = "on_" + action
    return on(action)(handler)


# `ocpp` routes by method name (decorated with @on); one default per action.
for _action in CP_ACTIONS:
    setattr(_CP, "on_" + _action, _make_default_handler(_action))


# ---------------------------------------------------------------- the CSMS

def _basic_credentials(header):
    """(user str, password bytes) from an Authorization header, or (None, None)."""
    if not header or not header[:6].lower() == "basic ":
        return None, None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except ValueError:
        return None, None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None, None
    return user.decode("utf-8", "replace"), password


def _cert_serial(transport):  # the client certificate's serial number (hex), or None
    cert = transport.get_extra_info("peercert") if transport else None
    return (cert or {}).get("serialNumber")


def _cert_cn(transport):
    cert = transport.get_extra_info("peercert") if transport else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class CSMS:
    """OCPP 1.6-J and 2.0.1 central system on 127.0.0.1, in a daemon thread or standalone.

    versions: the subprotocols it speaks ("ocpp1.6", "ocpp2.0.1"); of those a charge point
    offers, it takes the charge point's first (the charge point's preference wins), and
    refuses the handshake (HTTP 400) when none is shared. 2.0.1 connections are checked
    against the 2.0.1 schemas and error codes, and answered from the same scripting.

    Scripting (set any time; read when a CALL arrives):
      heartbeat_interval       interval in an Accepted BootNotification reply
      boot_status              "Accepted", or a sequence per charge point such as
                               ["Pending", "Accepted"] (the last one repeats)
      boot_retry_interval      interval for Pending/Rejected (None = heartbeat_interval)
      authorize_status         {idTag: status or full idTagInfo dict}; others get
      default_status           ("Accepted")
      start_status             {idTag: status or idTagInfo} for StartTransaction
                               (falls back to authorize_status)
      next_transaction_id      the next transactionId handed out (increments)
      data_transfer            reply dict, or callable(cp_id, payload) -> dict
      current_time             None (now) or a fixed currentTime string
      handlers                 {action: fn(cp_id, payload)} replacing a default:
                               return a reply dict, NO_REPLY, or raise CallErrorReply
    Records (read from the test thread; lists only grow):
      frames [(cp_id, "in"|"out", text)], calls [Received], violations [str],
      events [(cp_id, "connect"|"disconnect"|"replaced", detail)],
      handshakes [dict], transactions {transactionId: dict(cp_id, start, stop, meter_values,
      starts, stops)} (starts/stops count repeats of the same message); 2.0.1:
      transactions {transactionId str: dict(cp_id, events [TransactionEvent payloads])}
    """

    def __init__(self, auth=None, ssl_context=None, heartbeat_interval=300,
                 boot_status="Accepted", host="127.0.0.1", path="/ocpp",
                 ping_interval=20, echo=None, versions=("ocpp1.6",)):
        unknown = set(versions) - set(VERSIONS)
        if unknown or not versions:
            raise ValueError("versions: some of %s, not %s" % (sorted(VERSIONS), sorted(unknown)))
        self.versions = tuple(versions)
        self.auth = auth
        self.ssl_context = ssl_context
        self.host = host
        self.path = path.rstrip("/")
        self.ping_interval = ping_interval
        self.echo = echo
        self.port = None
        self.heartbeat_interval = heartbeat_interval
        self.boot_status = boot_status
        self.boot_retry_interval = None
        self.authorize_status = {}
        self.default_status = "Accepted"
        self.start_status = {}
        self.next_transaction_id = 1
        self.data_transfer = {"status": "Accepted"}
        self.current_time = None
        self.handlers = {}
        self.frames = []
        self.calls = []
        self.violations = []
        self.events = []
        self.handshakes = []
        self.transactions = {}
        self._boots = {}
        self._conns = {}
        self._cond = threading.Condition(threading.RLock())
        self._generation = 0
        self._loop = None
        self._thread = None
        self._server = None

    # ------------------------------------------------------------ life cycle

    @property
    def url(self):
        scheme = "wss" if self.ssl_context else "ws"
        return "%s://%s:%d%s" % (scheme, self.host, self.port, self.path)

    def url_for(self, cp_id):
        return self.url + "/" + quote(cp_id, safe="")

    def start(self, port=0):
        """Listen on `port` (0 = a free one) in a daemon thread; return self."""
        if self._thread:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        ready = concurrent.futures.Future()

        def run():
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(port))
            except BaseException as e:  # noqa: BLE001 - handed to start()
                ready.set_exception(e)
                loop.close()
                return
            ready.set_result(None)
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="csms", daemon=True)
        self._thread.start()
        try:
            ready.result(10)
        except BaseException:
            self._thread.join(5)
            self._thread = self._loop = None
            raise
        return self

    def stop(self, abort=False):
        """Close every connection (abort=True: drop TCP without a close frame)
        and stop listening. Records are kept; start(port=csms.port) again."""
        if not self._thread:
            return
        asyncio.run_coroutine_threadsafe(self._close(abort), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = self._loop = None

    async def _open(self, port):
        self._server = await serve(
            self._handler, self.host, port, ssl=self.ssl_context,
            subprotocols=list(self.versions), select_subprotocol=self._select,
            process_request=self._process_request,
            ping_interval=self.ping_interval, close_timeout=1, logger=_LOG)
        self.port = self._server.sockets[0].getsockname()[1]

    def _select(self, connection, offered):
        for p in offered:  # the charge point's order
            if p in self.versions:
                return p
        raise NegotiationError("no subprotocol in common: offered %s, served %s"
                               % (", ".join(offered) or "none", ", ".join(self.versions)))

    async def _close(self, abort):
        if abort:
            for conn in list(self._conns.values()):
                conn.ws.transport.abort()
        self._server.close()
        await self._server.wait_closed()

    async def run_forever(self, port):
        """Command-line mode: serve in the current loop until SIGINT/SIGTERM."""
        self._loop = asyncio.get_running_loop()
        await self._open(port)
        self._say("listening on %s (charge points append /<charge box id>)" % self.url)
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, done.set)
        await done.wait()
        await self._close(False)

    # ------------------------------------------------------------ connections

    def _cp_id(self, path):
        """Charge box id from `<self.path>/<id>` (percent-decoded), else None."""
        path = path.split("?", 1)[0]
        prefix, sep, tail = path.rpartition("/")
        if not sep or not tail or prefix != self.path:
            return None
        return unquote(tail)

    def _process_request(self, connection, request):
        cp_id = self._cp_id(request.path)
        user, password = _basic_credentials(request.headers.get("Authorization"))
        expected = None if self.auth is None or cp_id is None else self.auth.get(cp_id)
        if isinstance(expected, str):
            expected = expected.encode()
        ok = self.auth is None or (expected is not None and user == cp_id and password == expected)
        self._append(self.handshakes, dict(
            cp_id=cp_id, path=request.path, headers=list(request.headers.raw_items()),
            user=user, password=password, client_cn=_cert_cn(connection.transport),
            client_serial=_cert_serial(connection.transport),
            accepted=bool(cp_id and ok)))
        if cp_id is None:
            return connection.respond(404, "expected %s/<charge box id>\n" % self.path)
        if not ok:
            response = connection.respond(401, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
            return response
        return None

    async def _handler(self, ws):
        cp_id = self._cp_id(ws.request.path)
        old = self._conns.pop(cp_id, None)
        if old is not None:
            self._event(cp_id, "replaced", "a new connection arrived")
            await old.ws.close(1000, "replaced by a new connection")
        conn = (_CP201 if ws.subprotocol == "ocpp2.0.1" else _CP)(cp_id, ws, self)
        self._conns[cp_id] = conn
        self._event(cp_id, "connect", ws.subprotocol)
        try:
            await conn.start()
        except ConnectionClosed:
            pass
        except Exception as e:  # a bug in this CSMS must fail the test, not hang it
            _LOG.exception("connection handler crashed")
            self._violation(cp_id, "-", "CSMS crashed: %r" % e, "")
        finally:
            if self._conns.get(cp_id) is conn:
                del self._conns[cp_id]
            for fut in conn.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("%s disconnected" % cp_id))
            self._event(cp_id, "disconnect", (ws.close_code, ws.close_reason))

    # ------------------------------------------------------------ recording

    def _append(self, target, item):
        with self._cond:
            target.append(item)
            self._generation += 1
            self._cond.notify_all()

    def _say(self, line):
        if self.echo:
            self.echo(line)

    def _event(self, cp_id, what, detail):
        self._append(self.events, (cp_id, what, detail))
        self._say("-- %s %s %s" % (cp_id, what, detail))

    def _violation(self, cp_id, direction, problem, text):
        line = "%s %s: %s%s" % (cp_id, direction, problem, ": " + text[:300] if text else "")
        self._append(self.violations, line)
        self._say("!! " + line)

    def _record(self, conn, direction, text, check=True):
        problems, msg = _check(text, direction, conn.state, True)
        self._append(self.frames, (conn.id, direction, text))
        self._say("%s %s %s" % (conn.id, "<" if direction == "in" else ">", text))
        if check:
            for problem in problems:
                self._violation(conn.id, direction, problem, text)
        if direction == "in" and msg is not None and msg[0] == 2:
            if problems and isinstance(msg[1], str):
                conn.flagged.add(msg[1])
            self._append(self.calls, Received(conn.id, msg[1], msg[2], msg[3]))

    # ------------------------------------------------------------ default replies

    def _now(self):
        return self.current_time or utc_now()

    def id_tag_info(self, id_tag, table=None):
        """idTagInfo for a tag from `table`, then authorize_status, then default_status."""
        value = (table or {}).get(id_tag, self.authorize_status.get(id_tag, self.default_status))
        return dict(value) if isinstance(value, dict) else {"status": value}

    def default_reply(self, cp_id, action, payload):
        """The reply payload (JSON keys) the CSMS gives unless `handlers` says otherwise."""
        if action == "BootNotification":
            return self._boot_reply(cp_id)
        if action == "Heartbeat":
            return {"currentTime": self._now()}
        if action == "Authorize":
            return {"idTagInfo": self.id_tag_info(payload["idTag"])}
        if action == "StartTransaction":
            return self._start_reply(cp_id, payload)
        if action == "StopTransaction":
            return self._stop_reply(payload)
        if action == "MeterValues" and payload.get("transactionId") in self.transactions:
            self.transactions[payload["transactionId"]]["meter_values"].append(payload)
        if action == "DataTransfer":
            dt = self.data_transfer
            return dt(cp_id, payload) if callable(dt) else dict(dt)
        if action == "SignCertificate":
            return {"status": "Accepted"}
        return {}

    def default_reply_201(self, cp_id, action, payload):
        """default_reply() for OCPP 2.0.1."""
        if action == "BootNotification":
            return self._boot_reply(cp_id)
        if action == "Heartbeat":
            return {"currentTime": self._now()}
        if action == "Authorize":
            return {"idTokenInfo": self.id_token_info(payload["idToken"]["idToken"])}
        if action == "TransactionEvent":
            tx = self.transactions.setdefault(payload["transactionInfo"]["transactionId"],
                                              dict(cp_id=cp_id, events=[]))
            tx["events"].append(payload)
            if "idToken" in payload:
                return {"idTokenInfo": self.id_token_info(payload["idToken"]["idToken"])}
            return {}
        if action == "DataTransfer":
            dt = self.data_transfer
            return dt(cp_id, payload) if callable(dt) else dict(dt)
        if action in ("SignCertificate", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
                      "GetCertificateStatus"):
            return {"status": "Accepted"}
        if action == "Get15118EVCertificate":
            return {"status": "Accepted", "exiResponse": ""}
        return {}

    def id_token_info(self, id_token):
        """2.0.1 idTokenInfo from authorize_status (a status, or a 1.6 idTagInfo dict whose
        status and expiryDate carry over), else default_status."""
        value = self.authorize_status.get(id_token, self.default_status)
        if not isinstance(value, dict):
            return {"status": value}
        info = {"status": value["status"]}
        if "expiryDate" in value:
            info["cacheExpiryDateTime"] = value["expiryDate"]
        return info

    def _boot_reply(self, cp_id):
        count = self._boots.get(cp_id, 0)
        self._boots[cp_id] = count + 1
        seq = self.boot_status
        status = seq if isinstance(seq, str) else seq[min(count, len(seq) - 1)]
        interval = self.heartbeat_interval
        if status != "Accepted" and self.boot_retry_interval is not None:
            interval = self.boot_retry_interval
        return {"status": status, "currentTime": self._now(), "interval": interval}

    def _start_reply(self, cp_id, payload):
        # A StartTransaction sent again (its answer was lost in a cut) is the same transaction,
        # as for real CSMSs: same charger, connector, idTag, meterStart and timestamp.
        for tx, t in self.transactions.items():
            if t["cp_id"] == cp_id and t["start"] == payload:
                t["starts"] += 1
                break
        else:
            tx = self.next_transaction_id
            self.next_transaction_id = tx + 1
            self.transactions[tx] = dict(cp_id=cp_id, start=payload, stop=None, meter_values=[],
                                         starts=1, stops=0)
        return {"transactionId": tx,
                "idTagInfo": self.id_tag_info(payload["idTag"], self.start_status)}

    def _stop_reply(self, payload):
        tx = self.transactions.get(payload["transactionId"])
        if tx is not None:
            tx["stop"] = payload
            tx["stops"] += 1
        if "idTag" in payload:
            return {"idTagInfo": self.id_tag_info(payload["idTag"])}
        return {}

    # ------------------------------------------------------------ test-thread API

    def _run(self, coro, timeout):
        if self._loop is None:
            coro.close()
            raise RuntimeError("CSMS not started")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("blocking CSMS call from its own loop: use acall() in a task")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _conn(self, cp_id):
        conn = self._conns.get(cp_id)
        if conn is None:
            raise ConnectionError("%s is not connected" % cp_id)
        return conn

    async def acall(self, cp_id, action, payload, timeout=10, validate=True):
        """call() for code running in the CSMS loop (from a task, never
        awaited inside a handler)."""
        if validate:
            problems = []
            _schema(Call("x", action, payload), problems, self._conn(cp_id).version)
            if problems:
                raise ValueError("invalid %s request: %s" % (action, problems))
        try:
            frame = await self._conn(cp_id).raw_call(action, payload, timeout, validate)
        except asyncio.TimeoutError:
            raise TimeoutError("%s did not answer %s within %ss" % (cp_id, action, timeout))
        if frame[0] == 4:
            raise CallErrorReply(*frame[2:5])
        return frame[2]

    def call(self, cp_id, action, payload, timeout=10, validate=True):
        """CSMS-initiated CALL; the answer payload (JSON keys), or raises
        CallErrorReply / TimeoutError / ConnectionError. validate=False sends
        an invalid payload on purpose (and does not check that frame)."""
        return self._run(self.acall(cp_id, action, payload, timeout, validate), timeout + 5)

    def send_raw(self, cp_id, text, check=False):
        """Send any text frame. A CALL id in it is remembered so the CP's
        answer is not a violation; the frame itself is only checked if asked."""
        async def send():
            conn = self._conn(cp_id)
            m = re.match(r'\s*\[\s*2\s*,\s*"([^"]*)"', text)
            if m:  # an unparsable CALL still has an id the charge point may answer
                conn.state.calls["out"].setdefault(m.group(1), None)
            await conn._send(text, scripted=True, check=check)
        self._run(send(), 10)

    def connected(self, cp_id):
        return cp_id in self._conns

    def connect_count(self, cp_id):
        with self._cond:
            return sum(1 for e in self.events if e[0] == cp_id and e[1] == "connect")

    def disconnect(self, cp_id, abort=False, code=1000, reason=""):
        """Drop the charge point: a close frame, or abort=True for a bare TCP reset."""
        async def drop():
            conn = self._conns.pop(cp_id, None)
            if conn is None:
                return
            if abort:
                conn.ws.transport.abort()
            else:
                await conn.ws.close(code, reason)
        self._run(drop(), 10)

    def mark(self):
        """Position in `calls`, for received(since=) and wait_action(since=)."""
        with self._cond:
            return len(self.calls)

    def received(self, cp_id=None, action=None, since=0):
        """Payloads of the CALLs the charge point(s) sent, in order."""
        with self._cond:
            return [r.payload for r in self.calls[since:]
                    if (cp_id is None or r.cp_id == cp_id) and (action is None or r.action == action)]

    def wait_for(self, predicate, timeout=10, what=None):
        """Poll `predicate()` until truthy (returned), else AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                generation = self._generation
            result = predicate()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(self._timeout_report(what or _describe(predicate), timeout))
            with self._cond:
                if generation == self._generation:
                    self._cond.wait(min(left, 0.1))

    def _timeout_report(self, what, timeout):
        with self._cond:
            frames = ["  %s %s %s" % (c, "<" if d == "in" else ">", t[:200]) for c, d, t in self.frames[-15:]]
            lines = ["timed out after %ss waiting for %s" % (timeout, what),
                     "connected: %s" % sorted(self._conns),
                     "last frames:"] + (frames or ["  (none)"])
            if self.violations:
                lines += ["violations:"] + ["  " + v for v in self.violations[-10:]]
        return "\n".join(lines)

    def wait_action(self, cp_id, action, timeout=10, count=1, where=None, since=0):
        """Wait until `cp_id` sent `action` `count` times (payloads matching
        `where`, counted from mark `since`); the payload, or a list if count > 1."""
        def matches():
            found = [p for p in self.received(cp_id, action, since) if where is None or where(p)]
            return found[:count] if len(found) >= count else None
        what = "%s from %s x%d" % (action, cp_id, count)
        if where is not None:
            what += " where " + _describe(where)
        found = self.wait_for(matches, timeout, what)
        return found[0] if count == 1 else found

    def wait_frame(self, predicate, timeout=10, cp_id=None, direction="in", since=0):
        """Wait for a raw frame whose text satisfies `predicate` (exceptions
        count as no match); return the text. `since` indexes `frames`."""
        def find():
            with self._cond:
                frames = self.frames[since:]
            for c, d, text in frames:
                if (cp_id is None or c == cp_id) and d == direction:
                    try:
                        if predicate(text):
                            return text
                    except Exception:  # noqa: BLE001 - malformed frames just don't match
                        pass
            return None
        return self.wait_for(find, timeout, "frame where " + _describe(predicate))

    def wait_reply(self, cp_id, unique_id, timeout=10):
        """The parsed CALLRESULT/CALLERROR the charge point sent for `unique_id`."""
        def answers(text):
            msg = json.loads(text)
            return msg[0] in (3, 4) and msg[1] == unique_id
        return json.loads(self.wait_frame(answers, timeout, cp_id))


def _describe(fn):
    try:
        return inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return repr(fn)


# ---------------------------------------------------------------- command line

def _tls_context(cert, key, ca):
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if ca:  # security profile 3: charge points must present a certificate from this CA
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Local OCPP 1.6-J and 2.0.1 central system. Prints 'CP < frame' (from the "
                    "charge point), 'CP > frame' (to it), '!! violation'.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--path", default="/ocpp", help="URL path before /<charge box id>")
    ap.add_argument("--auth", action="append", metavar="CP_ID:PASSWORD",
                    help="require HTTP Basic auth (repeat per charge point)")
    ap.add_argument("--cert", help="server certificate (PEM) for wss://")
    ap.add_argument("--key", help="server private key (PEM)")
    ap.add_argument("--client-ca", help="require client certificates from this CA (PEM)")
    ap.add_argument("--heartbeat", type=int, default=300, help="heartbeat interval (s)")
    ap.add_argument("--boot-status", default="Accepted", choices=("Accepted", "Pending", "Rejected"))
    ap.add_argument("--ocpp", default="1.6,2.0.1",
                    help="versions served, comma-separated (default 1.6,2.0.1; a charge point's "
                         "first offered one that is served wins)")
    args = ap.parse_args(argv)
    versions = ["ocpp" + v.strip() for v in args.ocpp.split(",")]
    if set(versions) - set(VERSIONS):
        ap.error("--ocpp: 1.6 and/or 2.0.1")
    auth = None
    if args.auth:
        auth = dict(item.split(":", 1) for item in args.auth)
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    ssl_context = _tls_context(args.cert, args.key, args.client_ca) if args.cert else None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    csms = CSMS(auth=auth, ssl_context=ssl_context, heartbeat_interval=args.heartbeat,
                boot_status=args.boot_status, host=args.host, path=args.path, versions=versions,
                echo=lambda line: print(line, flush=True))
    asyncio.run(csms.run_forever(args.port))


if __name__ == "__main__":
    main()
