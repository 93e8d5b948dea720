#!/usr/bin/env python3
"""Drives the page of `rpcurl ui` in a real Chromium, as a person would.

Usage: ui_browser.py URL --server serve|grpcio --shots DIR

URL is the one `rpcurl ui` printed (with its access token). The server
behind it is `rpcurl serve` with tests/fixtures/ui-responses.json, or the
gRPC C-core test server (server.py). Screenshots go to DIR; the last line
printed is a JSON object of measurements (page size, time to interactive).
Any failed expectation raises, and the exit status is not 0.
"""

import argparse
import json
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

SECRET = "ui-test-secret"


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("RPCURL_CHROMIUM", "/usr/bin/chromium")
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="rpcurl-ui-chromium-"),
    ]:
        options.add_argument(flag)
    service = Service(executable_path=os.environ.get("RPCURL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


class Page:
    def __init__(self, driver, shots):
        self.d = driver
        self.shots = shots
        self.wait = WebDriverWait(driver, 15, poll_frequency=0.05)

    def css(self, selector):
        return self.d.find_element(By.CSS_SELECTOR, selector)

    def click(self, selector):
        # Layout moves as events arrive: wait until the button can take the
        # click, and try again if something was in the way.
        for attempt in range(10):
            try:
                element = self.until(f"{selector} to be clickable", lambda: self.clickable(selector))
                element.click()
                return
            except (ElementClickInterceptedException, ElementNotInteractableException, StaleElementReferenceException):
                if attempt == 9:
                    raise
                time.sleep(0.2)

    def clickable(self, selector):
        found = self.all(selector)
        if found and found[0].is_displayed() and found[0].is_enabled():
            self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", found[0])
            return found[0]
        return None

    def all(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def until(self, what, check):
        try:
            return self.wait.until(lambda d: check())
        except Exception as e:
            raise AssertionError(f"waited in vain for {what}: {e!r}; status: {self.status_text()}") from None

    def status_text(self):
        try:
            return self.css("#status").text
        except Exception:
            return "?"

    def shot(self, name):
        self.d.save_screenshot(os.path.join(self.shots, name + ".png"))

    def pick(self, full):
        self.click(f'button.method[data-full="{full}"]')
        self.until(f"{full} selected", lambda: self.css("#method-name").text == full)

    def set_json(self, value):
        self.click("#tab-json")
        editor = self.css("#json-editor")
        editor.clear()
        editor.send_keys(json.dumps(value))

    def fill(self, selector, text):
        field = self.css(selector)
        field.clear()
        field.send_keys(text)

    def editor_json(self):
        return json.loads(self.css("#json-editor").get_attribute("value"))

    def send_and_wait(self, code="OK"):
        self.click("#send")
        self.until(f"status {code}", lambda: self.status_code() == code)

    def status_code(self):
        codes = self.all("#status-code")
        return codes[0].text if codes else None

    def received(self):
        return self.all("#events .event.received")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(url, server, shots):
    os.makedirs(shots, exist_ok=True)
    driver = browser()
    try:
        p = Page(driver, shots)
        start = time.monotonic()
        driver.get(url)
        p.until("the page to load its schema", lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        metrics = driver.execute_script(
            """
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            const page = res.filter(r => /\\/app\\.(js|css)$/.test(r.name));
            return {
              domInteractiveMs: nav.domInteractive,
              readyMs: Number(document.body.dataset.readyAt),
              pageBytes: nav.encodedBodySize + page.reduce((a, r) => a + r.encodedBodySize, 0),
              pageTransferBytes: nav.transferSize + page.reduce((a, r) => a + r.transferSize, 0),
            };
            """
        )
        check("token=" not in driver.current_url, f"token still in the URL: {driver.current_url}")
        p.shot("01-browse")

        # Browse: the search narrows the list.
        p.fill("#search", "count")
        p.until("search results", lambda: len(p.all("button.method")) == 1)
        check(p.all('button.method[data-full="rpcurl.test.v1.TestService/Count"]'), "Count is found")
        p.css("#search").clear()
        p.css("#search").send_keys(" ")
        p.css("#search").clear()
        p.fill("#search", "test.v1")
        p.until("TestService methods", lambda: len(p.all("button.method")) >= 8)

        # Every method's template is valid against its JSON Schema, as the
        # page checks it.
        for full in [b.get_attribute("data-full") for b in p.all("button.method")]:
            p.pick(full)
            problems = [li.text for li in p.all("#problems li")]
            check(not problems, f"the template of {full} does not validate: {problems}")

        # Unary: fill the form, watch the JSON follow.
        p.pick("rpcurl.test.v1.TestService/Echo")
        # The template (every field, well-known types, a oneof) is valid.
        problems = [li.text for li in p.all("#problems li")]
        check(not problems, f"the template does not validate: {problems}")
        p.click("#clear")
        p.click("#tab-form")
        p.fill('input[data-path="fString"]', "hello from the form")
        Select(p.css('select[data-path="color"]')).select_by_visible_text("COLOR_GREEN")
        p.click('button[data-add="rString"]')
        p.fill('input[data-path="rString[0]"]', "first")
        p.click('button[data-add="mStrInt"]')
        p.fill('input[data-path="mStrInt[key]"]', "42")
        Select(p.css('select[data-oneof="choice"]')).select_by_value("cName")
        p.fill('input[data-path="cName"]', "chosen")
        p.fill('input[data-path="ts"]', "2024-05-06T07:08:09Z")
        p.click('button[data-set="nested"]')
        p.fill('input[data-path="nested.label"]', "inner")
        p.fill('input[data-path="wInt64"]', "7")
        expected = {
            "fString": "hello from the form",
            "color": "COLOR_GREEN",
            "rString": ["first"],
            "mStrInt": {"key": "42"},
            "cName": "chosen",
            "ts": "2024-05-06T07:08:09Z",
            "nested": {"label": "inner"},
            "wInt64": "7",
        }
        check(p.editor_json() == expected, f"the JSON editor follows the form: {p.editor_json()}")
        # The JSON editor drives the form, and is validated as one types.
        p.click("#tab-json")
        value = dict(expected, fInt32="abc")
        editor = p.css("#json-editor")
        editor.clear()
        editor.send_keys(json.dumps(value))
        p.until("a validation error for fInt32", lambda: any("fInt32" in li.text for li in p.all("#problems li")))
        p.shot("02-validation")
        value["fInt32"] = 12
        editor.clear()
        editor.send_keys(json.dumps(value))
        p.until("no validation errors", lambda: not p.all("#problems li"))
        p.click("#tab-form")
        check(p.css('input[data-path="fInt32"]').get_attribute("value") == "12", "the form follows the JSON")
        # Metadata and deadline.
        p.click("#add-header")
        p.fill("#metadata .item:last-child .meta-name", "x-page")
        p.fill("#metadata .item:last-child .meta-value", "from-browser")
        p.fill("#deadline", "30s")
        p.send_and_wait("OK")
        got = p.received()
        check(len(got) == 1, f"one response, got {len(got)}")
        check("hello from the form" in got[0].text and "COLOR_GREEN" in got[0].text, got[0].text)
        check("first message at" in p.css("#timings").text, p.css("#timings").text)
        p.shot("03-unary")

        # Any: choose a type, fill its form.
        Select(p.css('select[data-any="any"]')).select_by_value("rpcurl.test.v1.Everything.Nested")
        p.until("the Any's form", lambda: p.all('input[data-path="any.label"]'))
        p.fill('input[data-path="any.label"]', "inside any")
        check(p.editor_json()["any"] == {"@type": "type.googleapis.com/rpcurl.test.v1.Everything.Nested", "label": "inside any"},
              f"the Any in JSON: {p.editor_json().get('any')}")
        p.send_and_wait("OK")
        check("inside any" in p.received()[0].text, p.received()[0].text)

        # Server stream: messages show as they arrive.
        p.pick("rpcurl.test.v1.TestService/Count")
        p.set_json({"count": 3, "intervalMs": 1000, "text": "live"})
        p.click("#send")
        p.until("the first message", lambda: len(p.received()) >= 1)
        first_seen = time.monotonic()
        check(p.status_code() is None, "the stream is still running when its first message shows")
        check(len(p.received()) == 1, "only the first message so far")
        p.shot("04-stream-live")
        p.until("the end of the stream", lambda: p.status_code() == "OK")
        check(len(p.received()) == 3, "three messages")
        check(time.monotonic() - first_seen > 1.5, "the stream took its time after the first message")

        # Bidi: message by message.
        p.pick("rpcurl.test.v1.TestService/Chat")
        p.click("#send")
        p.until("the stream to open", lambda: p.css("#stream-send").is_displayed())
        for i, word in enumerate(["one", "two", "three"]):
            p.set_json({"text": word})
            p.click("#stream-send")
            p.until(f"the answer to {word}", lambda: len(p.received()) == i + 1)
            answer = p.received()[i].text
            check(word in answer, f"answer {i}: {answer}")
        kinds = [e.get_attribute("class") for e in p.all("#events .event")]
        check(kinds == ["event sent", "event received"] * 3, f"sent and received alternate: {kinds}")
        p.shot("05-bidi")
        p.click("#close")
        p.until("the end of the chat", lambda: p.status_code() == "OK")

        # Client stream: two messages, then half-close for the answer.
        p.pick("rpcurl.test.v1.TestService/Sum")
        p.click("#send")
        p.until("the stream to open", lambda: p.css("#stream-send").is_displayed())
        for value in ["2", "5"]:
            p.set_json({"value": value})
            p.click("#stream-send")
        p.until("both messages sent", lambda: len(p.all("#events .event.sent")) == 2)
        check(not p.received(), "no answer before the half-close")
        p.click("#close")
        p.until("the sum", lambda: p.status_code() == "OK")
        if server == "grpcio":
            check('"7"' in p.received()[0].text, p.received()[0].text)

        # An error with its details.
        p.pick("rpcurl.test.v1.TestService/Fail")
        if server == "grpcio":
            p.set_json({"code": 3, "message": "name is required", "withDetails": True})
        p.send_and_wait("INVALID_ARGUMENT")
        details = p.css("#details").text
        check("google.rpc" in details, details)
        if server == "serve":
            check("must not be empty" in details, details)
        p.shot("06-error")

        # No secret reached the page (before a server echoes the request's
        # metadata back in a message).
        check(SECRET not in driver.page_source, "a secret is on the page")

        # Headers and trailers.
        p.pick("rpcurl.test.v1.TestService/Headers")
        p.click("#add-header")
        p.fill("#metadata .item:last-child .meta-name", "x-page")
        p.fill("#metadata .item:last-child .meta-value", "from-browser")
        p.send_and_wait("OK")
        headers = p.css("#headers").text
        trailers = p.css("#trailers").text
        check("content-type" in headers, headers)
        if server == "serve":
            check("x-response-header" in headers and "from serve" in headers, headers)
            check("x-trailer" in trailers and "done" in trailers, trailers)
        else:
            # The C-core server echoes the request metadata it saw.
            body = p.received()[0].text
            check("x-page" in body and "x-team" in body, body)
            check('"from-browser"' in body, body)
        p.shot("07-headers")

        # History: the Echo call comes back and runs again.
        p.until("history entries", lambda: len(p.all("#history .entry")) >= 5)
        echo = [e for e in p.all("#history .entry") if e.text.startswith("Echo")]
        check(echo, "Echo in the history")
        echo[0].click()
        p.until("Echo loaded from history", lambda: p.css("#method-name").text == "rpcurl.test.v1.TestService/Echo")
        replayed = p.editor_json()
        check(replayed.get("fString") == "hello from the form", f"replayed request: {replayed}")
        names = [e.get_attribute("value") for e in p.all("#metadata .meta-name")]
        check("x-page" in names, f"metadata replayed: {names}")
        check(p.css("#deadline").get_attribute("value") == "30s", "deadline replayed")
        p.send_and_wait("OK")
        p.shot("08-history")

        # Copy as command.
        p.click("#copy-command")
        p.until("the commands", lambda: p.all('#commands pre[data-tool="rpcurl"]'))
        rpcurl = p.css('#commands pre[data-tool="rpcurl"]').text
        check("rpcurl.test.v1.TestService/Echo" in rpcurl and "hello from the form" in rpcurl, rpcurl)
        check("x-page: from-browser" in rpcurl, rpcurl)
        grpcurl = p.css('#commands pre[data-tool="grpcurl"]').text
        check(grpcurl.startswith("grpcurl -plaintext"), grpcurl)
        check(p.all('#commands pre[data-tool="buf"]') and p.all('#commands pre[data-tool="curl"]'), "buf curl and curl")
        p.shot("09-command")

        if server == "serve":
            check(SECRET not in driver.page_source, "a secret is on the page")
        check("••••••" in p.css("#cli-headers").text, p.css("#cli-headers").text)
        metrics["seconds"] = round(time.monotonic() - start, 1)
        print(json.dumps(metrics))
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--server", choices=["serve", "grpcio"], required=True)
    parser.add_argument("--shots", required=True)
    args = parser.parse_args()
    try:
        run(args.url, args.server, args.shots)
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
