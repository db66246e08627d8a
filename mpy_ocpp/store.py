# Files in the state directory chosen by the firmware. Writes are atomic: the new content goes
# to NAME.tmp, then a rename replaces NAME, so a power cut leaves the old or the new file.
import json
import os

from .compat import log
from .rpc import dump


NONE = type(None)


def rows(doc, *kinds):
    """A shape check for load(): `doc` is a list of lists with one field per kind, the type of
    each field that kind (a type, or a tuple of the types allowed)."""
    if type(doc) is not list:
        return False
    for r in doc:
        if type(r) is not list or len(r) != len(kinds):
            return False
        for v, k in zip(r, kinds):
            if type(v) is not k and not (type(k) is tuple and type(v) in k):
                return False
    return True


def shallow(doc, depth):
    """True if `doc` nests lists and dicts no deeper than `depth` (what is read back may go
    into recursive code: clock.fix, json.dumps)."""
    if type(doc) is dict:
        doc = list(doc.values())
    if type(doc) is list:
        return depth > 0 and all([shallow(v, depth - 1) for v in doc])
    return True


def _makedirs(path):
    part = ""
    for p in path.split("/"):
        part = part + "/" + p if part or path[0] == "/" else p
        if p:
            try:
                os.mkdir(part)
            except OSError:
                pass  # exists


def rm(path):  # remove a file that may not be there
    try:
        os.remove(path)
    except OSError:
        pass


class Store:
    def __init__(self, path):
        self.path = path.rstrip("/") or "/"
        _makedirs(self.path)

    def _file(self, name):
        return self.path + "/" + name

    def read(self, name):
        for n in (name, name + ".tmp"):  # .tmp survives only a cut between remove and rename (FAT)
            try:
                with open(self._file(n), "rb") as f:
                    return f.read()
            except OSError:
                pass
        return None

    def write(self, name, data):
        """Replace NAME with `data`: bytes as they are, anything else as JSON (the text
        json.dumps gives, written piece by piece: never whole; again in pieces of at most 64
        characters if there is no free block for a 512-character one). False (one log line) if
        the filesystem refuses (full, read-only, I/O error) or there is no memory even so: then
        read() gives what it gave before."""
        p = self._file(name)
        t = p + ".tmp"
        raw = isinstance(data, (bytes, bytearray))
        whole = False
        try:
            for short in (512, 64):
                try:
                    with open(t, "wb" if raw else "w") as f:
                        if raw:
                            f.write(data)  # FAT too raises ENOSPC for a short write
                        else:
                            dump(data, f.write, short)
                    break
                except MemoryError:
                    if short == 64:
                        raise OSError("no memory")
            whole = True
            try:
                os.rename(t, p)  # littlefs and POSIX replace atomically
            except OSError:
                os.remove(p)  # FAT will not rename over an existing file
                os.rename(t, p)
            return True
        except OSError as e:
            log("store: %s not written: %r" % (name, e))
            if whole:
                try:
                    os.stat(t)  # the whole .tmp is there
                    try:
                        os.stat(p)
                    except OSError:  # and NAME is gone: read() gives the .tmp, it is written
                        return True
                except OSError:
                    pass
            rm(t)  # never read back instead of NAME
            return False

    def names(self, prefix):
        """The documents whose name starts with `prefix` (also those only a .tmp holds)."""
        out = []
        for n in os.listdir(self.path):
            if n.endswith(".tmp"):
                n = n[:-4]
            if n.startswith(prefix) and not n.endswith(".bad") and n not in out:
                out.append(n)
        return out

    def quarantine(self, name):
        """Set a corrupt document aside as NAME.bad (kept for diagnosis, never read again)."""
        log("store: %s is corrupt, set aside as %s.bad" % (name, name))
        rm(self._file(name + ".bad"))  # FAT will not rename over it
        for n in (name, name + ".tmp"):
            try:
                os.rename(self._file(n), self._file(name + ".bad"))
            except OSError:
                pass

    def remove(self, name):
        for n in (name, name + ".tmp"):
            rm(self._file(n))


    def load(self, name, default=None, check=None):
        """A JSON document, or `default` when it is missing; one that does not decode or that
        `check(doc)` refuses is quarantined (with a log line) and `default` comes back."""
        data = self.read(name)
        if data is None:
            return default
        try:
            doc = json.loads(data)
            if check is None or check(doc):
                return doc
        except MemoryError:
            raise  # not the file's fault: keep it
        except Exception:  # any other failure (bad UTF-8, nesting, a check tripping): a bad file
            pass
        self.quarantine(name)
        return default

    def save(self, name, obj):
        """Store `obj` as JSON; False if it could not be written (see write)."""
        return self.write(name, obj)
