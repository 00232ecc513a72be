"""The webhooks panel in a real headless Chromium against the real
courier-local binary: a portal session's URL, adding an endpoint through
the form, its secret copied, a published event's delivery and its retry
appearing, an attempt opened and resent, disable and enable, Recover
(refused while disabled, then a delivery that failed for good brought
back), a test event,
the statistics chart, filters, delete with its confirmation, a read-only
session without write controls, framing allowed and refused by
PORTAL_FRAME_ANCESTORS, and no request to another origin; then an endpoint
whose circuit is open (circuit_test.py). Screenshots go to target/browser/.

Run: infra/test.sh (the "browser tests" step), or by hand
  cargo build -p courier-local && ~/.cache/courier/browser-venv/bin/python infra/browser/portal_test.py
"""

import re
import sys
import time
import unittest
import urllib.parse

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import CourierLocal, FramingPage, NetworkLog, Receiver, chromium, screenshot, wait_for
from circuit_test import CircuitPanel  # noqa: F401 (run with the panel's story)

TENANT = "shop_42"


def buttons(driver, text):
    return [b for b in driver.find_elements(By.TAG_NAME, "button") if b.is_displayed() and b.text.strip() == text]


def click(driver, text, timeout=20):
    """Clicks the visible button labelled `text`, retrying over re-renders."""

    def attempt(d):
        found = buttons(d, text)
        if not found:
            return False
        try:
            found[0].click()
            return True
        except StaleElementReferenceException:
            return False

    wait_for(driver, attempt, timeout, f"a button '{text}'")


def scroll_to(driver, css):
    driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", css)


def text_of(driver, css):
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


class Panel(unittest.TestCase):
    """One story, step by step: each test builds on the ones before it."""

    @classmethod
    def setUpClass(cls):
        cls.allowed = FramingPage("Allowed shop")
        cls.refused = FramingPage("Other site")
        cls.receiver = Receiver()
        cls.courier = CourierLocal(
            {
                "RETRY_SCHEDULE": "1,1",
                "PORTAL_FRAME_ANCESTORS": cls.allowed.origin,
                "PORTAL_PLATFORM_NAME": "Shopline",
                "PORTAL_ACCENT_COLOR": "#0a7f5c",
            }
        )
        cls.driver = chromium()
        cls.network = NetworkLog(cls.driver)
        cls.driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": cls.courier.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        for part in (cls.courier, cls.receiver, cls.allowed, cls.refused):
            part.stop()

    def session_url(self, **body):
        return self.courier.call("POST", f"/v1/tenants/{TENANT}/portal-sessions", body)["url"]

    def endpoint(self):
        return self.courier.call("GET", f"/v1/tenants/{TENANT}/endpoints")["data"][0]

    def test_00_the_server_prints_a_demo_portal_url_that_opens(self):
        tenant, url = self.courier.demo_portal_url()
        self.assertEqual(tenant, "store_1")
        self.assertTrue(url.startswith(f"{self.courier.base}/portal#token=cpt_"), url)
        self.driver.get(url)
        wait_for(self.driver, lambda d: "Endpoints" in text_of(d, "h1"), what="the endpoint list")
        self.assertIn("No endpoints yet", self.driver.find_element(By.TAG_NAME, "main").text)

    def test_01_a_session_url_opens_the_panel_for_its_tenant(self):
        self.driver.get(self.session_url())
        wait_for(self.driver, lambda d: buttons(d, "Add endpoint"), what="Add endpoint")
        self.assertEqual(self.driver.title, "Webhooks · Shopline")
        # The token leaves the address bar once read.
        self.assertNotIn("token", self.driver.current_url)
        screenshot(self.driver, "01-endpoints-empty")

    def test_02_add_an_endpoint_with_two_events_and_copy_its_secret(self):
        d = self.driver
        click(d, "Add endpoint")
        form = wait_for(d, lambda d: d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=add-title]"))
        # Every field has a label.
        unlabeled = d.execute_script(
            "return [...arguments[0].querySelectorAll('input,select,textarea')].filter(e => e.labels.length === 0).map(e => e.name)",
            form,
        )
        self.assertEqual(unlabeled, [])
        self.assertIn("HTTPS required", form.text)
        names = {e.get_attribute("name") for e in form.find_elements(By.CSS_SELECTOR, "input,textarea")}
        self.assertTrue({"url", "eventTypes", "description"} <= names, names)
        # A refused URL: the problem's detail beside the field, by keyboard.
        url = form.find_element(By.NAME, "url")
        url.send_keys("ftp://example.com/hook")
        form.find_element(By.CSS_SELECTOR, 'input[value="booking.created"]').send_keys(Keys.SPACE)
        url.send_keys(Keys.ENTER)
        slot = form.find_element(By.CSS_SELECTOR, "[data-error-for=url]")
        wait_for(d, lambda d: slot.is_displayed() and slot.text, what="the url problem")
        self.assertIn("http", slot.text)
        self.assertEqual(url.get_attribute("aria-invalid"), "true")
        screenshot(d, "02-add-endpoint-problem")
        url.clear()
        url.send_keys(self.receiver.url)
        form.find_element(By.CSS_SELECTOR, 'input[value="order.created"]').send_keys(Keys.SPACE)
        form.find_element(By.NAME, "description").send_keys("Orders and bookings to the ERP")
        screenshot(d, "02-add-endpoint")
        click(d, "Create endpoint")
        wait_for(d, lambda d: "Endpoint created" in text_of(d, "h1"), what="the created endpoint")
        secret = d.find_element(By.CSS_SELECTOR, "code.secret").text
        self.assertTrue(secret.startswith("whsec_"), secret)
        ep = self.endpoint()
        self.assertEqual(sorted(ep["eventTypes"]), ["booking.created", "order.created"])
        self.assertEqual(ep["url"], self.receiver.url)
        revealed = self.courier.call("GET", f"/v1/tenants/{TENANT}/endpoints/{ep['id']}/secret")
        self.assertEqual(secret, revealed["secret"])
        click(d, "Copy")
        wait_for(d, lambda d: buttons(d, "Copied"), what="Copied")
        pasted = d.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('ERR ' + e))")
        self.assertEqual(pasted, secret)
        screenshot(d, "03-secret")

    def test_03_a_published_event_appears_in_recent_deliveries_with_its_retry(self):
        d = self.driver
        click(d, "Open endpoint")
        wait_for(d, lambda d: buttons(d, "Disable"), what="the endpoint page")
        self.courier.call("POST", f"/v1/tenants/{TENANT}/events", {"type": "booking.created", "data": {"bookingId": "bk_1"}})
        rows = lambda d: d.find_elements(By.CSS_SELECTOR, ".delivery-row")
        wait_for(d, lambda d: any("Retry #1" in r.text for r in rows(d)), timeout=30, what="the retry's row")
        texts = [r.text for r in rows(d)]
        retry = next(t for t in texts if "Retry #1" in t)
        first = next(t for t in texts if "Retry #" not in t)
        self.assertIn("200", retry)
        self.assertIn("500", first)
        for t in (retry, first):
            self.assertIn("booking.created", t)
            self.assertRegex(t, r"\d+ ms")
            self.assertRegex(t, r"\d+[smh] ago")
        badges = {b.text: b.get_attribute("class") for b in d.find_elements(By.CSS_SELECTOR, ".delivery-row .badge")}
        self.assertIn("ok", badges["200"])
        self.assertIn("fail", badges["500"])
        scroll_to(d, "section[aria-labelledby=deliveries-title]")
        screenshot(d, "04-recent-deliveries")

    def test_04_open_an_attempt_in_full_and_resend_it(self):
        d = self.driver
        row = next(r for r in d.find_elements(By.CSS_SELECTOR, ".delivery-row") if "500" in r.text)
        row.click()
        article = wait_for(d, lambda d: d.find_element(By.CSS_SELECTOR, "article.attempt"), what="the attempt")
        wait_for(d, lambda d: "Request headers" in article.text)
        self.assertIn("webhook-id", article.text)
        self.assertIn("busy, try again", article.find_element(By.CSS_SELECTOR, ".response-body").text)
        scroll_to(d, "article.attempt")
        screenshot(d, "05-attempt")
        before = len(self.receiver.received)
        click(d, "Resend")
        wait_for(d, lambda d: len(self.receiver.received) > before, timeout=15, what="the resent delivery")
        wait_for(d, lambda d: "resent" in text_of(d, ".delivery-row"), timeout=15, what="the resent row")

    def test_05_disable_and_enable_the_endpoint(self):
        d = self.driver
        click(d, "Disable")
        wait_for(d, lambda d: "Disabled" in text_of(d, ".summary .badge"), what="Disabled")
        self.assertIn("disabled by hand", text_of(d, ".summary .badge"))
        self.assertFalse(self.endpoint()["enabled"])
        screenshot(d, "06-disabled")
        # Recover is refused while disabled: the 409's detail beside the field.
        click(d, "Recover")
        slot = d.find_element(By.CSS_SELECTOR, "form.recover [data-error-for=form]")
        wait_for(d, lambda d: slot.is_displayed() and "is disabled" in slot.text, what="the 409 detail")
        self.assertIn("re-enable it", slot.text)
        scroll_to(d, "form.recover")
        screenshot(d, "06-recover-disabled")
        click(d, "Enable")
        wait_for(d, lambda d: "Active" in text_of(d, ".summary .badge"), what="Active")
        self.assertTrue(self.endpoint()["enabled"])

    def test_05b_recover_brings_back_a_delivery_that_failed_for_good(self):
        d = self.driver
        ep = self.endpoint()
        form = d.find_element(By.CSS_SELECTOR, "form.recover")
        since = form.find_element(By.NAME, "since")
        self.assertEqual(since.get_attribute("type"), "datetime-local")
        self.assertTrue(d.execute_script("return arguments[0].labels.length", since))
        # The default: 24 hours ago, to the minute, in local time.
        shown = d.execute_script("return Date.parse(arguments[0].value)", since)
        self.assertLess(abs(time.time() * 1000 - 86_400_000 - shown), 120_000, since.get_attribute("value"))
        # An event whose three attempts all fail ("RETRY_SCHEDULE": "1,1").
        self.receiver.failing = True
        event = self.courier.call("POST", f"/v1/tenants/{TENANT}/events", {"type": "order.created", "data": {"orderId": "o_1"}})
        log = f"/v1/tenants/{TENANT}/endpoints/{ep['id']}/deliveries?limit=50"

        def failed_for_good(_):
            for a in self.courier.call("GET", log)["data"]:
                if a["eventId"] == event["id"] and a["attempt"] == 3:
                    return a["status"] == "failed"
            return False

        wait_for(d, failed_for_good, timeout=30, what="the third failed attempt")
        self.receiver.failing = False
        before = len(self.receiver.received)
        click(d, "Recover")
        result = form.find_element(By.CSS_SELECTOR, "[data-recover-result]")
        wait_for(d, lambda d: result.text == "1 delivery queued", timeout=15, what="1 delivery queued")
        ids = lambda: [{k.lower(): v for k, v in h.items()}.get("webhook-id") for h, _ in self.receiver.received[before:]]
        wait_for(d, lambda d: event["id"] in ids(), timeout=15, what="the recovered delivery")
        wait_for(d, lambda d: "recovered" in text_of(d, ".delivery-row"), timeout=15, what="the recovered row")
        recovered = [a for a in self.courier.call("GET", log)["data"] if a["trigger"] == "recover"]
        self.assertEqual([(a["eventId"], a["status"]) for a in recovered], [(event["id"], "succeeded")])
        scroll_to(d, "form.recover")
        screenshot(d, "06-recover")
        # Nothing is left to recover: the event's latest attempt succeeded.
        click(d, "Recover")
        wait_for(d, lambda d: result.text == "0 deliveries queued", timeout=15, what="0 deliveries queued")

    def test_06_send_a_test_event(self):
        d = self.driver
        before = len(self.receiver.received)
        click(d, "Send test event")
        wait_for(d, lambda d: "Test event sent" in text_of(d, ".summary .status-line"), what="the confirmation")
        wait_for(d, lambda d: "webhook.test" in text_of(d, ".delivery-row"), timeout=15, what="the test delivery")
        self.assertGreater(len(self.receiver.received), before)

    def test_07_the_statistics_chart_and_its_numbers(self):
        d = self.driver
        wait_for(d, lambda d: int(text_of(d, "[data-stat=attempts]") or 0) >= 4, timeout=15, what="the counts")
        chart = d.find_element(By.CSS_SELECTOR, "svg.chart")
        self.assertEqual(len(chart.find_elements(By.CSS_SELECTOR, "g.day")), 30)
        self.assertIn("Deliveries per day", chart.get_attribute("aria-label"))
        self.assertTrue(any(float(r.get_attribute("height")) > 0 for r in chart.find_elements(By.CSS_SELECTOR, "rect.ok")))
        self.assertRegex(text_of(d, "[data-stat=successRate]"), r"^\d+\.\d%$")
        self.assertIn("5xx responses", text_of(d, ".distribution"))
        scroll_to(d, "section.stats")
        screenshot(d, "07-statistics")

    def test_08_filter_by_status(self):
        d = self.driver
        select = d.find_element(By.NAME, "status")
        select.send_keys("Failed")
        select.send_keys(Keys.TAB)
        wait_for(d, lambda d: all(r.get_attribute("data-status") == "failed" for r in d.find_elements(By.CSS_SELECTOR, ".delivery-row")) and d.find_elements(By.CSS_SELECTOR, ".delivery-row"), what="only failed rows")

    def test_09_delete_asks_first_and_cannot_be_undone(self):
        d = self.driver
        doomed = self.courier.call("POST", f"/v1/tenants/{TENANT}/endpoints", {"url": self.receiver.url, "eventTypes": ["*"]})
        click(d, "← Endpoints")
        wait_for(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".endpoint-row")) == 2, what="two endpoints")
        d.find_element(By.CSS_SELECTOR, f'[data-endpoint-id="{doomed["id"]}"]').click()
        click(d, "Delete")
        dialog = wait_for(d, lambda d: d.find_element(By.CSS_SELECTOR, "dialog[open]"), what="the confirmation")
        self.assertIn("cannot be undone", dialog.text)
        screenshot(d, "08-delete-confirmation")
        click(d, "Cancel")
        self.assertEqual(len(self.courier.call("GET", f"/v1/tenants/{TENANT}/endpoints")["data"]), 2)
        click(d, "Delete")
        click(d, "Delete endpoint")
        wait_for(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".endpoint-row")) == 1, what="one endpoint left")
        self.assertEqual(len(self.courier.call("GET", f"/v1/tenants/{TENANT}/endpoints")["data"]), 1)

    def test_10_a_read_only_session_shows_no_write_controls(self):
        d = self.driver
        d.get(self.session_url(readOnly=True))
        wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".endpoint-row"), what="the list")
        self.assertIn("Read-only", d.find_element(By.ID, "session").text)
        self.assertEqual(buttons(d, "Add endpoint"), [])
        d.find_element(By.CSS_SELECTOR, ".endpoint-row").click()
        wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".delivery-row") and buttons(d, "Show"), what="the page")
        for label in ["Disable", "Enable", "Send test event", "Delete", "Rotate", "Save events", "Recover"]:
            self.assertEqual(buttons(d, label), [], label)
        self.assertTrue(all(not c.is_enabled() for c in d.find_elements(By.NAME, "eventTypes")))
        d.find_element(By.CSS_SELECTOR, ".delivery-row").click()
        wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "article.attempt"), what="the attempt")
        self.assertEqual(buttons(d, "Resend"), [])
        screenshot(d, "09-read-only")

    def test_11_framed_by_an_allowed_origin(self):
        d = self.driver
        self.allowed.target = self.session_url()
        d.get(self.allowed.origin + "/")
        frame = wait_for(d, lambda d: d.find_element(By.ID, "panel"))
        d.switch_to.frame(frame)
        try:
            wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".endpoint-row"), what="the framed panel")
        finally:
            d.switch_to.default_content()
        screenshot(d, "10-framed")

    def test_12_refused_by_an_origin_not_allowed(self):
        d = self.driver
        self.refused.target = self.session_url()
        d.get_log("browser")
        d.get(self.refused.origin + "/")
        frame = wait_for(d, lambda d: d.find_element(By.ID, "panel"))
        time.sleep(1.5)
        d.switch_to.frame(frame)
        try:
            self.assertEqual(d.find_elements(By.ID, "app"), [], "the panel must not render in this frame")
        finally:
            d.switch_to.default_content()
        console = " ".join(e["message"] for e in d.get_log("browser"))
        self.assertIn("frame-ancestors", console)
        screenshot(d, "11-frame-refused")

    def test_13_no_request_goes_to_another_origin(self):
        requests = self.network.collect()
        self.assertGreater(len(requests), 20)
        # The framing pages are other origins by design; the panel is not.
        pages = {f"{p.origin}{path}" for p in (self.allowed, self.refused) for path in ("/", "/favicon.ico")}
        foreign = []
        for url, _ in requests:
            origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
            if origin != self.courier.base and url not in pages and not url.startswith("data:"):
                foreign.append(url)
        self.assertEqual(foreign, [], "the panel fetched from another origin")
        api_calls = [u for u, _ in requests if "/v1/" in u]
        self.assertTrue(all(u.startswith(self.courier.base) for u in api_calls))
        self.assertFalse(any(re.search(r"[?&]token=", u) for u, _ in requests), "tokens never in a URL sent")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"browser: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
