#!/usr/bin/env python3
"""The web console in a real browser (Debian's chromium driven by Playwright for Python).

    console_test.py --flowmetrics build/apps/flowmetrics --ferretdb .tools/bin/ferretdb-server \
        [--screenshots DIR]

Starts its own FerretDB (or uses MONGODB_URI) and its own `flowmetrics serve`, feeds a known
workload through POST /v1/metrics, and checks what the page shows against sums computed here,
independently of the collector: the top-N table by several dimensions, measures, filters and
ranges, the URL that follows each change and reproduces the view in a fresh page, the inline
error of a bad filter, the chart's pixels and the Sankey's paths, and that no request left for
another host. Then `flowmetrics console` with a bearer token: the page asks for the token once.

Without chromium or Playwright the test is skipped (exit 77), except under CI=true, where it
fails: a browser test that silently skips in CI tests nothing.
"""
import argparse
import collections
import gzip
import json
import os
import random
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_support as support  # noqa: E402

CHROMIUM = os.environ.get("FLOWMETRICS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-extensions"]
SKIP = 77
GEN_WORKLOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "gen_workload.py")
TIMEOUT_MS = 60_000
ARGS = None


def missing_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (scripts/install-deps.sh installs it)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (scripts/install-deps.sh installs chromium)"
    return None


def make_workload(now):
    """Records with distinct totals per key (no ties at any rank): 24 sources over the last
    hour, and 6 more sources four hours ago (seen only by the 6 h range)."""
    rng = random.Random(12)
    records = []
    ports = [(443, "tcp"), (53, "udp"), (80, "tcp"), (8443, "tcp")]
    for i in range(1, 31):
        recent = i <= 24
        source = f"10.0.{i // 10}.{i}" if i != 7 else "2001:db8::7"
        for j in range(20 + i % 4):
            port, protocol = ports[(i + j) % len(ports)]
            age = (2 + rng.randrange(45)) * 60 if recent else (4 * 3600 + rng.randrange(20) * 60)
            records.append({
                "source_ip": source, "dest_ip": f"192.168.1.{1 + (i + j) % 5}",
                "source_port": 40_000 + i, "dest_port": port, "protocol": protocol,
                "timestamp": int((now - age) * 1000),
                "bytes": 10_000 * i + 37 * j + rng.randrange(9) * 1000 + 1, "packets": 10 * i + j + 1,
                "flows": 1 + j, "value": float(i),
            })
    return records


def expected_top(records, dims, measure, limit, keep):
    """The top `limit` rows of `records` that `keep` accepts, grouped by `dims` and summed."""
    sums = collections.Counter()
    for r in records:
        if keep(r):
            sums[tuple(str(r[d]) for d in dims)] += r[measure]
    ranked = sorted(sums.items(), key=lambda kv: -kv[1])
    shown = [v for _, v in ranked[:limit + 1]]
    assert len(set(shown)) == len(shown), "the workload must have no ties where the ranking is read"
    total = sum(sums.values())
    rows = ranked[:limit]
    return {"rows": [(" · ".join(k), v) for k, v in rows], "other": total - sum(v for _, v in rows), "total": total}


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from playwright.sync_api import sync_playwright
        cls.work = support.Workdir()
        cls.stack = []
        try:
            uri = os.environ.get("MONGODB_URI")
            if not uri:
                cls.db = support.FerretDb(ARGS.ferretdb, cls.work.sub("ferretdb"))
                cls.stack.append(cls.db)
                uri = cls.db.uri
            collection = f"console_{os.getpid()}_{time.time_ns()}"
            cls.uri, cls.collection = uri, collection
            cls.serve = support.Flowmetrics(ARGS.flowmetrics, cls.work.sub("serve"), uri, collection)
            cls.stack.append(cls.serve)
            cls.now = time.time()
            cls.records = make_workload(cls.now)
            cls.serve.post_records(cls.records)
            total = sum(r["bytes"] for r in cls.records)

            # Written once the query API sees every byte (the pipeline writes each closed minute).
            def written():
                status, body = cls.serve.get_json("/v1/query/top?by=source_ip&measure=bytes&last=7d&limit=1")
                return status == 200 and body["total"]["bytes"] == total
            support.eventually(written, 120, "the workload written and answered by /v1/query/top")

            cls.playwright = sync_playwright().start()
            cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for name in ("browser",):
            if hasattr(cls, name):
                getattr(cls, name).close()
        if hasattr(cls, "playwright"):
            cls.playwright.stop()
        for process in reversed(cls.stack):
            process.stop()
        cls.work.remove()

    # --- helpers -------------------------------------------------------------------------

    def open_page(self, url):
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)
        self.addCleanup(context.close)
        self.addCleanup(self.check_requests_stayed_home, requests)
        return page

    def check_requests_stayed_home(self, requests):
        origin = urllib.parse.urlsplit(self.serve.base)
        self.assertTrue(requests, "the page made no request at all")
        for url in requests:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            self.assertEqual((parts.scheme, parts.hostname, parts.port), ("http", origin.hostname, origin.port),
                             f"a request left for another host: {url}")

    def wait_ready(self, page, after=0):
        page.wait_for_function(
            "g => Number(document.body.dataset.generation || 0) > g && document.body.dataset.state !== 'loading'",
            arg=after)
        return int(page.evaluate("document.body.dataset.generation"))

    def generation(self, page):
        return int(page.evaluate("Number(document.body.dataset.generation || 0)"))

    def change(self, page, action):
        """Runs `action` on the page and waits for the render it causes."""
        before = self.generation(page)
        action()
        self.wait_ready(page, before)
        self.assertEqual(page.evaluate("document.body.dataset.state"), "ready", page.inner_text("#status"))

    def table(self, page):
        rows = page.eval_on_selector_all(
            "#top-body tr", "rows => rows.map(r => [r.dataset.key, Number(r.dataset.value)])")
        other = page.eval_on_selector("#top-foot tr.other", "r => Number(r.dataset.value)")
        total = page.eval_on_selector("#top-foot tr.total", "r => Number(r.dataset.value)")
        return {"rows": [tuple(r) for r in rows], "other": other, "total": total}

    def assert_table(self, page, expected):
        got = self.table(page)
        self.assertEqual(got["rows"], expected["rows"])
        self.assertEqual(got["other"], expected["other"])
        self.assertEqual(got["total"], expected["total"])
        # The text a person reads: rank, the key, and the share with its bar.
        first = page.eval_on_selector("#top-body tr", "r => [...r.cells].map(c => c.textContent)")
        self.assertEqual(first[0], "1")
        self.assertEqual(first[1], expected["rows"][0][0].split(" · ")[0])
        share = expected["rows"][0][1] / expected["total"]
        self.assertEqual(first[-1], f"{share * 100:.1f} %")

    def url_params(self, page):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))

    def chart_pixels(self, page):
        """Pixels of the uPlot canvas that are not blank."""
        return page.evaluate("""() => {
            const canvas = document.querySelector('#chart canvas');
            if (!canvas) return 0;
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted += 1;
            return painted;
        }""")

    def legend(self, page):
        return page.eval_on_selector_all("#chart .u-legend .u-series .u-label",
                                         "labels => labels.slice(1).map(l => l.textContent)")

    def screenshot(self, page, name):
        if ARGS.screenshots:
            os.makedirs(ARGS.screenshots, exist_ok=True)
            page.screenshot(path=os.path.join(ARGS.screenshots, name), full_page=True)

    def recent(self, hours):
        return lambda r: r["timestamp"] >= (self.now - hours * 3600) * 1000

    # --- tests ---------------------------------------------------------------------------

    def test_default_view_then_controls_then_link(self):
        page = self.open_page(self.serve.base + "/")
        self.wait_ready(page)
        self.assertEqual(page.evaluate("document.body.dataset.state"), "ready", page.inner_text("#status"))
        first_render = page.evaluate("Number(document.body.dataset.firstRenderMs)")
        print(f"console: default view (last hour, bits/s by source_ip) rendered {first_render:.0f} ms "
              "after navigation start", file=sys.stderr)
        # Default: last hour, bits/s, split and ranked by source_ip, top 10 plus Other.
        self.assertEqual(self.url_params(page), {})
        last_hour = self.recent(1)
        expected = expected_top(self.records, ["source_ip"], "bytes", 10, last_hour)
        self.assert_table(page, expected)
        self.assertGreater(self.chart_pixels(page), 1000)
        self.assertEqual(self.legend(page), [k for k, _ in expected["rows"]] + ["Other"])
        self.assertIn("b/s", page.inner_text("#top-body tr:first-child"))
        self.screenshot(page, "stacked-source-ip.png")

        # Dimension: by dest_port.
        self.change(page, lambda: page.select_option("#dim", "dest_port"))
        self.assertEqual(self.url_params(page), {"dim": "dest_port"})
        expected = expected_top(self.records, ["dest_port"], "bytes", 10, last_hour)
        self.assert_table(page, expected)
        self.assertEqual(self.legend(page), [k for k, _ in expected["rows"]] + ["Other"])

        # Filter, typed in the query syntax.
        self.change(page, lambda: (page.fill("#where", "protocol = tcp and dest_port in (443, 8443)"),
                                   page.press("#where", "Enter")))
        self.assertEqual(self.url_params(page)["where"], "protocol = tcp and dest_port in (443, 8443)")
        keep = lambda r: last_hour(r) and r["dest_port"] in (443, 8443)  # noqa: E731
        self.assert_table(page, expected_top(self.records, ["dest_port"], "bytes", 10, keep))

        # Range: the last 6 hours also see the older sources; packets/s; lines.
        self.change(page, lambda: page.select_option("#range", "6h"))
        self.change(page, lambda: page.select_option("#measure", "pps"))
        self.change(page, lambda: page.select_option("#view", "lines"))
        self.change(page, lambda: page.select_option("#dim", "source_ip"))
        self.assertEqual(self.url_params(page), {"last": "6h", "measure": "pps", "view": "lines",
                                                 "where": "protocol = tcp and dest_port in (443, 8443)"})
        keep = lambda r: self.recent(6)(r) and r["dest_port"] in (443, 8443)  # noqa: E731
        expected = expected_top(self.records, ["source_ip"], "packets", 10, keep)
        self.assert_table(page, expected)
        self.assertTrue(any(k.startswith("10.0.2.") and int(k.split(".")[-1]) > 24 for k, _ in expected["rows"]),
                        "the 6 h range must rank some older sources")
        self.assertGreater(self.chart_pixels(page), 500)
        self.assertIn("p/s", page.inner_text("#top-body tr:first-child"))
        self.screenshot(page, "lines-filtered-6h.png")

        # The link reproduces the view in a fresh page.
        fresh = self.open_page(page.url)
        self.wait_ready(fresh)
        self.assertEqual(self.table(fresh), self.table(page))
        self.assertEqual(fresh.input_value("#where"), "protocol = tcp and dest_port in (443, 8443)")
        self.assertEqual(fresh.input_value("#view"), "lines")

        # An absolute range, starting from the one in view; its link works too.
        self.change(page, lambda: page.select_option("#range", "abs"))
        params = self.url_params(page)
        self.assertIn("from", params)
        self.assertIn("to", params)
        self.assertNotIn("last", params)
        self.assert_table(page, expected)
        again = self.open_page(page.url)
        self.wait_ready(again)
        self.assertEqual(self.table(again), self.table(page))
        self.assertEqual(again.input_value("#range"), "abs")

    def test_assets_budget_and_policy(self):
        total = 0
        for path in ("/", "/assets/console.js", "/assets/console.css", "/favicon.svg"):
            request = urllib.request.Request(self.serve.base + path, headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
                self.assertEqual(response.headers["Content-Encoding"], "gzip", path)
                policy = response.headers["Content-Security-Policy"]
            self.assertEqual(gzip.decompress(body)[:1] != b"", True)
            self.assertIn("default-src 'none'", policy)
            self.assertIn("connect-src 'self'", policy)
            self.assertNotIn("unsafe-inline", policy)
            total += len(body)
        print(f"console: page and assets {total} bytes gzipped", file=sys.stderr)
        self.assertLess(total, 150 * 1024, "the console's size budget")
        # Without gzip the same files come as they are.
        with urllib.request.urlopen(self.serve.base + "/assets/console.js", timeout=30) as response:
            self.assertIsNone(response.headers["Content-Encoding"])
            self.assertTrue(response.read().strip())

    def test_auto_refresh(self):
        page = self.open_page(self.serve.base + "/?refresh=10&last=15m")
        generation = self.wait_ready(page)
        self.assertEqual(page.input_value("#refresh"), "10")
        # No action: the next render comes from the timer alone.
        self.wait_ready(page, generation)
        self.change(page, lambda: page.select_option("#refresh", "0"))
        self.assertEqual(self.url_params(page), {"last": "15m"})

    def test_bad_filter_shows_inline_error(self):
        page = self.open_page(self.serve.base + "/?dim=dest_port")
        self.wait_ready(page)
        before = self.table(page)
        bad = "dest_port = 443 and protocl = tcp"
        generation = self.generation(page)
        page.fill("#where", bad)
        page.press("#where", "Enter")
        self.wait_ready(page, generation)
        self.assertEqual(page.evaluate("document.body.dataset.state"), "error")
        self.assertTrue(page.is_visible("#filter-error"))
        self.assertTrue(page.inner_text("#filter-message"))
        position = page.get_attribute("#filter-echo", "data-position")
        self.assertIsNotNone(position, page.inner_text("#filter-message"))
        self.assertEqual(int(position), bad.index("protocl"))
        self.assertEqual(page.inner_text("#filter-echo mark"), "p")
        self.assertEqual(page.get_attribute("#where", "aria-invalid"), "true")
        self.assertEqual(self.table(page), before, "the last good table stays on screen")
        self.screenshot(page, "filter-error.png")
        # Fixing it clears the error.
        self.change(page, lambda: (page.fill("#where", "dest_port = 443"), page.press("#where", "Enter")))
        self.assertFalse(page.is_visible("#filter-error"))

    def test_sankey(self):
        page = self.open_page(self.serve.base + "/?view=sankey&dim=source_ip&dim2=dest_port&limit=10")
        self.wait_ready(page)
        self.assertEqual(page.evaluate("document.body.dataset.state"), "ready", page.inner_text("#status"))
        paths = page.eval_on_selector_all("#sankey svg path", "ps => ps.filter(p => p.getTotalLength() > 10).length")
        expected = expected_top(self.records, ["source_ip", "dest_port"], "bytes", 20, self.recent(1))
        self.assertEqual(paths, len(expected["rows"]))
        self.assertEqual(self.table(page)["rows"], expected["rows"])
        labels = page.eval_on_selector_all("#sankey svg text", "ts => ts.map(t => t.textContent)")
        self.assertIn(expected["rows"][0][0].split(" · ")[0], labels)
        self.screenshot(page, "sankey-source-ip-dest-port.png")

    def test_console_command_with_token(self):
        directory = self.work.sub("console")
        token_file = os.path.join(directory, "token")
        with open(token_file, "w") as f:
            f.write("s3cret-console-token\n")
        console = support.Flowmetrics(ARGS.flowmetrics, directory, self.uri, self.collection, command="console",
                                      extra_toml=f'bearer_token_file = "{token_file}"\n',
                                      args=["--listen", "127.0.0.1:0"])
        self.addCleanup(console.stop)
        status, _ = console.get_json("/v1/query/top?by=source_ip&last=1h")
        self.assertEqual(status, 401)
        context = self.browser.new_context(timezone_id="UTC")
        self.addCleanup(context.close)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(console.base + "/")
        page.wait_for_selector("#token-dialog[open]")
        page.fill("#token", "s3cret-console-token")
        page.press("#token", "Enter")
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        expected = expected_top(self.records, ["source_ip"], "bytes", 10, self.recent(1))
        self.assertEqual(self.table(page)["rows"], expected["rows"])
        # Asked once: a reload in the same tab keeps the token (sessionStorage).
        page.reload()
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        self.assertFalse(page.is_visible("#token-dialog"))

    def test_quickstart_data_render_time(self):
        """The quick start's workload (scripts/gen_workload.py --records 10000, through
        `flowmetrics ingest` with the default configuration), seen through `flowmetrics console`
        over the hour it starts. Its records are from 2024, yet the minute totals answer both of
        the page's queries: their retention counts back from the newest data written, not from
        today (docs/rollups.md, "Retention"). The render time is reported, not asserted."""
        directory = self.work.sub("quickstart")
        collection = self.collection + "_quickstart"
        workload = subprocess.run([sys.executable, GEN_WORKLOAD, "--records", "10000"], check=True,
                                  capture_output=True, text=True).stdout
        config = support.write_config(directory, self.uri, collection)
        subprocess.run([ARGS.flowmetrics, "ingest", "-", "--config", config], input=workload, text=True, check=True,
                       capture_output=True, timeout=300, env=support.clean_environment())
        records = [json.loads(line) for line in workload.splitlines()]
        console = support.Flowmetrics(ARGS.flowmetrics, directory, self.uri, collection, command="console",
                                      args=["--listen", "127.0.0.1:0"])
        self.addCleanup(console.stop)
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
        self.addCleanup(context.close)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        answers = []
        page.on("response", lambda response: answers.append(response) if "/v1/query/" in response.url else None)
        page.goto(console.base + "/?from=2024-11-25T10:20:00Z&to=2024-11-25T11:20:00Z")
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        expected = expected_top(records, ["source_ip"], "bytes", 10, lambda r: True)
        self.assertEqual(self.table(page)["rows"], expected["rows"])
        queries = {urllib.parse.urlsplit(a.url).path.rsplit("/", 1)[-1]: a.json() for a in answers}
        self.assertEqual(sorted(queries), ["series", "top"])
        for kind, body in sorted(queries.items()):
            self.assertEqual(body["tiers"], ["minute_totals"], kind)
            print(f"console: the quick start's one-hour view: {kind} answered from {', '.join(body['tiers'])} "
                  f"in {body['elapsed_ms']:.1f} ms (server side)", file=sys.stderr)
        timing = page.evaluate("""() => {
            const nav = performance.getEntriesByType('navigation')[0];
            return {render: Number(document.body.dataset.firstRenderMs), queries: Number(document.body.dataset.renderMs),
                    load: nav ? nav.loadEventEnd : 0};
        }""")
        print(f"console: the quick start's data (10,000 records), a one-hour view: first render "
              f"{timing['render']:.0f} ms after navigation start (queries and drawing {timing['queries']:.0f} ms, "
              f"page load {timing['load']:.0f} ms)", file=sys.stderr)
        self.screenshot(page, "quickstart-hour.png")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowmetrics", required=True)
    parser.add_argument("--ferretdb", required=True)
    parser.add_argument("--screenshots", default="", help="where to save the PNGs (FLOWMETRICS_CONSOLE_SCREENSHOTS wins)")
    ARGS, rest = parser.parse_known_args()
    ARGS.screenshots = os.environ.get("FLOWMETRICS_CONSOLE_SCREENSHOTS") or ARGS.screenshots
    reason = missing_browser()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            print(f"console_test: FAILED under CI: {reason}", file=sys.stderr)
            return 1
        print(f"console_test: SKIPPED: {reason}", file=sys.stderr)
        return SKIP
    program = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
