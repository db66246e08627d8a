"""Validate incoming OCPP payloads against the tables in schema.py (1.6) or schema201.py
(2.0.1), draft-04 semantics.

check(name, payload, s) -> None if valid, else (error_code, "field.path: what"); `name`
is a CSMS->CP action (its request) or "<CP->CSMS action>Response"; `s` the table module (schema or schema201).
Unknown names: None. Error codes are spelled as in 1.6 (the 2.0.1 side renames two).

Nodes of s.T (children are indices into T):
  object  (nrequired, name, child, name, child, ...)  required names first; no other names
                                                       allowed, unless a None ends it (open),
                                                       but customData where s.CUSTOM is its node
  enum    ("value", ...)                               a string, one of these
  array   (_ARR, child, minItems, maxItems or None)
  string  (_STR, maxLength or None)
  integer (_INT,) or (_INT, minimum or None, maximum or None)
  other   (_DT,) date-time string, (_BOOL,), (_NUM, multipleOf or None, minimum or None),
          (_ANY,) any value

The first error found is returned. Order: payload not an object; then per object: unknown
property, missing required property, then each property in payload order (depth first);
per value: its JSON type, then its constraints, then array items in order.
Deviations from jsonschema's Draft4Validator: date-time is checked (syntax and field ranges,
not days per month); multipleOf allows float rounding (0.3 is a multiple of 0.1 here); numbers
beyond ±(2**31 - 1), inf and nan are out of range (PropertyConstraintViolation).
"""

_ARR = const(-1)
_STR = const(-2)
_DT = const(-3)
_INT = const(-4)
_NUM = const(-5)
_BOOL = const(-6)
_ANY = const(-7)

_TYPE = ("TypeConstraintViolation", ": wrong type")
_OCC = "OccurenceConstraintViolation"
_PROP = "PropertyConstraintViolation"
_BIG = const(0x7FFFFFFF)  # numbers are 32-bit on the wire: no bigints into indices or time
_RANGE = ("PropertyConstraintViolation", ": out of range")  # a constant (_PROP would build it)


def check(name, payload, s):
    n = s.spec(name)
    if n is None:
        return None
    if type(payload) is not dict:
        return ("FormationViolation", "payload: not a JSON object")
    c = s.CUSTOM
    e = _val(n, payload, s.T, c if c is None else s.T[c])
    return e and (e[0], e[1][1:])  # drop the leading "." of the top-level name


def _val(n, v, T, c):
    # None, or (code, path + ": what") with the path starting with "." or "["; c: the
    # customData node that every object may hold (2.0.1), else None
    k = n[0]
    t = type(v)
    if k == _ANY:
        return None
    if type(k) is str:
        if t is not str:
            return _TYPE
        if v not in n:
            return (_PROP, ": bad enum value")
    elif k >= 0:
        if t is not dict:
            return _TYPE
        shut = len(n) & 1  # an open object ends in None
        for p in v:
            if shut and p not in n and (c is None or p != "customData"):
                return ("FormationViolation", "." + p + ": not allowed")
        for i in range(1, 1 + 2 * k, 2):
            if n[i] not in v:
                return (_OCC, "." + n[i] + ": missing")
        for p in v:
            x = T[n[n.index(p) + 1]] if p in n else c if p == "customData" else None
            if x:
                e = _val(x, v[p], T, c)
                if e:
                    return (e[0], "." + p + e[1])
    elif k == _ARR:
        if t is not list:
            return _TYPE
        if len(v) < n[2] or n[3] is not None and len(v) > n[3]:
            return (_OCC, ": wrong number of items")
        for i in range(len(v)):
            e = _val(T[n[1]], v[i], T, c)
            if e:
                return (e[0], "[%d]%s" % (i, e[1]))
    elif k == _NUM:
        if t is not int and t is not float:
            return _TYPE
        if not -_BIG <= v <= _BIG:  # also inf and nan
            return _RANGE
        if n[2] is not None and v < n[2]:
            return (_PROP, ": below minimum")
        m = n[1]
        if m is not None:
            q = v / m
            f = q % 1
            # allow float rounding: relative 1e-9, or 1e-6 on single-precision ports
            if not min(f, 1 - f) <= (abs(q) + 1) * (1e-6 if m + m * 1e-10 == m else 1e-9):
                return (_PROP, ": not a multiple of %s" % m)
    elif t is not (str if k >= _DT else int if k == _INT else bool):
        return _TYPE
    elif k == _INT:
        if not -_BIG <= v <= _BIG:
            return _RANGE
        if len(n) > 1 and (n[1] is not None and v < n[1] or n[2] is not None and v > n[2]):
            return _RANGE
    elif k == _STR:
        if n[1] is not None and len(v) > n[1]:
            return (_PROP, ": too long")
    elif k == _DT and not _date_time(v):
        return (_PROP, ": not an ISO 8601 date-time")
    return None


def _fits(s, i, t):
    # s[i:] starts like template t, where "0" stands for any digit
    for c in t:
        d = s[i]
        if d != c and (c != "0" or not "0" <= d <= "9"):
            return False
        i += 1
    return True


def _two(s, i):
    return ord(s[i]) * 10 + ord(s[i + 1]) - 528  # digits checked by _fits


def _date_time(s):
    # YYYY-MM-DDTHH:MM:SS[.digits](Z|+HH:MM|-HH:MM), fields in range
    n = len(s)
    if n < 20 or not _fits(s, 0, "0000-00-00T00:00:00"):
        return False
    for i, lo, hi in ((5, 1, 12), (8, 1, 31), (11, 0, 23), (14, 0, 59), (17, 0, 60)):
        if not lo <= _two(s, i) <= hi:
            return False
    z = n - 1 if s[n - 1] == "Z" else n - 6  # where the zone starts
    if z < 19 or z > 19 and (s[19] != "." or z == 20):
        return False
    for i in range(20, z):
        if not "0" <= s[i] <= "9":
            return False
    return z == n - 1 or (s[z] in "+-" and _fits(s, z + 1, "00:00") and _two(s, z + 1) < 24
                          and _two(s, z + 4) < 60)
