"""The browser simulator (`make web`): the page, driven in headless Chromium (Debian's
chromium, driven by Playwright for Python), runs the mpy_ocpp library on the MicroPython
webassembly port against a real tools/csms.py. Skips, saying why, where no browser is there."""

import os
from pathlib import Path

import pytest

from tools.webserve import serve

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# as the machine notes say: without the networking flags Chromium tries Google's hosts
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = 20000  # ms: loading MicroPython and the library takes about a second

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        pytest.skip("no Playwright for Python (requirements.txt): browser tests skipped")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no %s (make test installs Debian's chromium as root): browser tests skipped"
                    % CHROMIUM)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def base():
    httpd, _ = serve(port=0, csms_port=0)
    yield "http://127.0.0.1:%d/" % httpd.server_port
    httpd.shutdown()


@pytest.fixture
def page(browser, base):
    """A fresh page (its own localStorage) showing the simulator; page.errors: uncaught ones."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(base)
    yield pg
    ctx.close()
    assert pg.errors == []


def connect(page, csms, ocpp="1.6", connectors=2, key=""):
    page.fill("#url", csms.url)
    page.fill("#cbid", "CP_1")
    page.fill("#key", key)
    page.select_option("#ocpp", ocpp)
    page.fill("#connectors", str(connectors))
    page.click("#connect", timeout=WAIT)
    expect(page.locator("#link")).to_have_text("open", timeout=WAIT)
    expect(page.locator("#boot")).to_have_text("Accepted", timeout=WAIT)


def panel(page, n):
    return page.locator('[data-connector="%d"]' % n)


def charge(page, n, tag="04A1B2C3", kind=None):
    p = panel(page, n)
    p.locator(".plug").click()
    expect(p.locator(".status")).to_have_text("Preparing", timeout=WAIT)
    p.locator(".idtag").fill(tag)
    if kind:
        p.locator(".kind").select_option(kind)
    p.locator(".card").click()
    expect(p.locator(".status")).to_have_text("Charging", timeout=WAIT)
    return p


def test_a_charging_session_from_the_page(page, csms):
    connect(page, csms)
    csms.call("CP_1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
    p = charge(page, 1)
    expect(p.locator(".relay")).to_have_text("closed")
    expect(p.locator(".tx")).to_have_text("1")
    csms.wait_action("CP_1", "MeterValues", timeout=10)
    expect(p.locator(".energy")).not_to_have_text("0.000 kWh", timeout=WAIT)
    expect(page.locator('#log .frame[data-action="StartTransaction"]').first).to_be_visible()
    (ROOT / "build").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "build" / "web-sim.png"))
    p.locator(".unplug").click()
    csms.wait_action("CP_1", "StopTransaction", timeout=10)
    expect(p.locator(".status")).to_have_text("Available", timeout=WAIT)
    got = {r.action for r in csms.calls}
    assert {"BootNotification", "StatusNotification", "StartTransaction", "MeterValues",
            "StopTransaction"} <= got
    assert csms.violations == []


def test_a_reload_mid_transaction_resumes_it(page, csms):
    connect(page, csms)
    p = charge(page, 1)
    csms.wait_action("CP_1", "StartTransaction")
    tx = csms.received("CP_1", "StartTransaction")
    assert len(tx) == 1
    page.reload()  # the page's power cut: the WebSocket goes, the state stays in localStorage
    expect(page.locator("#link")).to_have_text("open", timeout=WAIT)
    p = panel(page, 1)
    expect(p.locator(".status")).to_have_text("Charging", timeout=WAIT)
    expect(p.locator(".tx")).to_have_text("1")
    csms.wait_action("CP_1", "BootNotification", count=2)
    p.locator(".unplug").click()
    csms.wait_action("CP_1", "StopTransaction")
    expect(p.locator(".status")).to_have_text("Available", timeout=WAIT)
    page.wait_for_timeout(1500)  # nothing more comes
    stops = csms.received("CP_1", "StopTransaction")
    assert [s["transactionId"] for s in stops] == [1]
    assert len(csms.received("CP_1", "StartTransaction")) == 1
    assert csms.violations == []


def test_configuration_both_ways(page, csms):
    connect(page, csms, connectors=1)
    page.click("#tab-config")
    assert csms.call("CP_1", "ChangeConfiguration",
                     {"key": "HeartbeatInterval", "value": "123"}) == {"status": "Accepted"}
    page.wait_for_function(
        """() => { const c = document.querySelector('#config tr[data-key="HeartbeatInterval"] .value');
                   const i = c && c.querySelector('input');
                   return c && (i ? i.value : c.textContent).trim() === '123'; }""", timeout=WAIT)
    # and from the page: the CSMS reads what the operator set
    row = page.locator('#config tr[data-key="MeterValueSampleInterval"]')
    row.locator("input").fill("7")
    row.locator("input").press("Enter")
    page.wait_for_timeout(300)
    got = csms.call("CP_1", "GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert got["configurationKey"][0]["value"] == "7"
    # the CSMS drops the link: the page's transport connects again by itself
    csms.disconnect("CP_1", code=1001)
    csms.wait_for(lambda: csms.connect_count("CP_1") == 2, timeout=10, what="a reconnect")
    expect(page.locator("#link")).to_have_text("open", timeout=WAIT)


def test_ocpp_201_session(page, csms_factory):
    csms = csms_factory(versions=("ocpp2.0.1",))
    connect(page, csms, ocpp="2.0.1", connectors=1)
    expect(page.locator("#version")).to_have_text("2.0.1")
    p = charge(page, 1, "1234", kind="KeyCode")  # 2.0.1 idTokens have a type
    csms.wait_action("CP_1", "TransactionEvent", where=lambda q: "idToken" in q)
    assert [q["idToken"] for q in csms.received("CP_1", "TransactionEvent") if "idToken" in q][0] == {
        "idToken": "1234", "type": "KeyCode"}
    p.locator(".unplug").click()
    csms.wait_action("CP_1", "TransactionEvent", where=lambda q: q["eventType"] == "Ended")
    assert csms.violations == []


def test_a_users_mistakes_in_plain_words(page, csms_factory):
    err = page.locator("#error")
    page.fill("#url", "http://127.0.0.1:1/ocpp")
    page.click("#connect", timeout=WAIT)
    expect(err).to_contain_text("ws://", timeout=WAIT)
    page.fill("#url", "ws://127.0.0.1:1/ocpp")  # nothing listens there
    page.click("#connect")
    expect(err).to_contain_text("cannot connect", timeout=WAIT)
    page.click("#disconnect")
    csms = csms_factory(auth={"CP_1": "right-key-0123456789"})
    page.fill("#url", csms.url)
    page.fill("#key", "wrong-key-0123456789")
    page.click("#connect")
    expect(err).to_contain_text("AuthorizationKey", timeout=WAIT)
    expect(page.locator("#link")).not_to_have_text("open")
    page.click("#disconnect")
    connect(page, csms, key="right-key-0123456789")  # Basic auth from the browser
    expect(err).to_have_text("")
    p = panel(page, 1)
    p.locator(".card").click()  # no cable, no tag typed: still no crash
    assert csms.violations == []


def test_a_hostile_csms_and_damaged_browser_storage(page, csms):
    connect(page, csms, connectors=1)
    charge(page, 1)
    csms.wait_action("CP_1", "StartTransaction")
    csms.send_raw("CP_1", '[2,"h1","FlyToTheMoon",{}]')  # answered with a CALLERROR, shown red
    expect(page.locator("#log .frame.callerror").first).to_be_visible(timeout=WAIT)
    csms.send_raw("CP_1", "not json at all")  # shown as it came
    expect(page.locator('#log .frame[data-kind="RAW"]').first).to_be_attached(timeout=WAIT)
    keys = page.evaluate("() => Object.keys(localStorage)")
    assert "mpy_ocpp:fs:/state/CP_1/authcache.json" in keys, keys
    page.evaluate("""() => {
        localStorage.setItem('mpy_ocpp:fs:/state/CP_1/authcache.json', btoa('[["04A1'));
        localStorage.setItem('mpy_ocpp:fs:/state/CP_1/x.json', '%%% not base64');
        localStorage.setItem('mpy_ocpp:fs:/etc/passwd', btoa('root')); }""")
    page.reload()
    expect(page.locator("#link")).to_have_text("open", timeout=WAIT)
    expect(panel(page, 1).locator(".status")).to_have_text("Charging", timeout=WAIT)  # the journal is intact
    lib = page.locator("#log tr.lib")
    expect(lib.filter(has_text="authcache.json is corrupt")).to_have_count(1)
    expect(lib.filter(has_text="x.json was damaged")).to_have_count(1)
    expect(lib.filter(has_text="/etc/passwd was damaged")).to_have_count(1)
    keys = page.evaluate("() => Object.keys(localStorage)")
    assert not [k for k in keys if "x.json" in k or "passwd" in k], keys
    panel(page, 1).locator(".unplug").click()
    csms.wait_action("CP_1", "StopTransaction")
    assert len(csms.received("CP_1", "StopTransaction")) == 1
    assert [v for v in csms.violations if "h1" not in v and "not json" not in v] == []
