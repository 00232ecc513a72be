"""An endpoint whose receiver is down, as its tenant sees it in the panel:
the circuit opens (small thresholds so that a few events open it), the
badge says Failing with when it started and when the next attempt goes
out, and once the receiver answers again the badge goes back to Active
and the waiting delivery arrives. Run by portal_test.py (it imports this
class); screenshot in target/browser/12-circuit-open.png."""

import unittest

from selenium.webdriver.common.by import By

from support import CourierLocal, Receiver, chromium, screenshot, wait_for

TENANT = "shop_77"


def text_of(driver, css):
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


class CircuitPanel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.receiver.failing = True
        # Two failures of the last four open the circuit; probes every 2 s.
        cls.courier = CourierLocal({"RETRY_SCHEDULE": "2,2", "CIRCUIT_WINDOW": "4", "CIRCUIT_OPEN_AFTER": "2"})
        cls.driver = chromium()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        for part in (cls.courier, cls.receiver):
            part.stop()

    def test_a_failing_endpoint_shows_its_open_circuit_until_it_recovers(self):
        d = self.driver
        path = f"/v1/tenants/{TENANT}/endpoints"
        ep = self.courier.call("POST", path, {"url": self.receiver.url, "eventTypes": ["*"]})
        session = self.courier.call("POST", f"/v1/tenants/{TENANT}/portal-sessions", {})
        events = [
            self.courier.call("POST", f"/v1/tenants/{TENANT}/events", {"type": "order.created", "data": {"n": n}})["id"]
            for n in range(3)
        ]
        read = lambda: self.courier.call("GET", f"{path}/{ep['id']}")
        wait_for(d, lambda d: read()["circuit"] == "open", timeout=30, what="the circuit to open")
        d.get(session["url"])
        wait_for(d, lambda d: "Failing" in text_of(d, ".endpoint-row"), what="Failing in the list")
        d.find_element(By.CSS_SELECTOR, f".endpoint-row[data-endpoint-id='{ep['id']}']").click()
        wait_for(d, lambda d: "Failing" in text_of(d, ".summary .badge"), what="Failing on the endpoint page")
        note = text_of(d, ".summary .circuit-note")
        self.assertIn("Failing since", note)
        self.assertIn("none is lost", note)
        self.assertRegex(note, r"next attempt (goes out in \d+s|is due now)")
        self.assertIn("fail", d.find_element(By.CSS_SELECTOR, ".summary .badge").get_attribute("class"))
        self.assertTrue(read()["enabled"], "an open circuit does not disable")
        screenshot(d, "12-circuit-open")
        # The receiver answers again: a probe succeeds, the circuit closes
        # (the page refreshes every 5 s) and every event arrives.
        self.receiver.failing = False
        wait_for(d, lambda d: "Active" in text_of(d, ".summary .badge"), timeout=30, what="Active again")
        self.assertEqual(text_of(d, ".summary .circuit-note"), "")
        self.assertEqual(read()["circuit"], "closed")

        log = f"{path}/{ep['id']}/deliveries?limit=50"

        def delivered(_):
            ok = {a["eventId"] for a in self.courier.call("GET", log)["data"] if a["status"] == "succeeded"}
            return set(events) <= ok

        wait_for(d, delivered, timeout=30, what="every event delivered")
