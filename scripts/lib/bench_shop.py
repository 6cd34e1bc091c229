"""The parts of scripts/bench-shop that are easier in Python than in bash:
seeding the shop, counting database commands per request at the server,
timing every function's cold start, and drawing the chart.

    bench_shop.py seed BASE ADMIN_BIN WORK
    bench_shop.py opcount MONGODB_URI
    bench_shop.py commands BASE WORK MONGODB_URI
    bench_shop.py cold BASE WORK ROUNDS LOG            (prints markdown rows)
    bench_shop.py chart ROWS_FILE SVG_FILE
"""

import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "correct horse battery staple"


def caller(base):
    def call(method, path, body=None, token=None, headers=None):
        """Answers (status, headers, parsed body); a 4xx or 5xx is an answer too."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.headers, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read() or b"null")

    return call


def ok(answer):
    status, _, body = answer
    if status >= 300:
        raise SystemExit("seeding failed: %d %s" % (status, body))
    return body


def seed(base, admin_bin, work):
    import subprocess

    call = caller(base)
    for name in ("benchadmin", "benchbuyer", "benchreader"):
        ok(call("POST", "/users/register",
                {"username": name, "email": name + "@bench.example", "password": PASSWORD}))
    subprocess.run([admin_bin, "promote", "benchadmin"], check=True, capture_output=True)

    def token(name):
        return ok(call("POST", "/users/login", {"username": name, "password": PASSWORD}))["accessToken"]

    admin, buyer, reader = token("benchadmin"), token("benchbuyer"), token("benchreader")

    def product(i):
        category = "listed" if i < 20 else "other-%d" % (i % 40)
        # No stock: a product without it never runs out, whatever the bench orders.
        return ok(call("POST", "/products", {"name": "Product %d" % i, "description": "A product for the benchmark",
                                             "price": 10 + i % 90 + 0.99, "category": category}, admin))["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(product, range(1000)))
    # The reader has 50 orders, and keeps them: the buyer's grow with the bench.
    for n in range(50):
        ok(call("POST", "/orders", {"products": [{"productId": ids[n], "quantity": 1}]}, reader,
                {"idempotency-key": "seed-%d" % n}))
    with open(work + "/seed.json", "w") as f:
        json.dump({"admin": admin, "buyer": buyer, "reader": reader, "product": ids[0], "second": ids[1]}, f)


def load_seed(work):
    with open(work + "/seed.json") as f:
        return json.load(f)


def case_requests(base, work):
    """One request of each benchmark case, as wrk sends it."""
    call, s = caller(base), load_seed(work)
    counter = iter(range(10**9))
    order = {"products": [{"productId": s["product"], "quantity": 1}, {"productId": s["second"], "quantity": 2}]}
    return {
        "products-list": lambda: call("GET", "/products?category=listed&limit=20"),
        "products-get": lambda: call("GET", "/products/" + s["product"]),
        "orders-create": lambda: call("POST", "/orders", order, s["buyer"],
                                      {"idempotency-key": "count-%d-%d" % (time.time_ns(), next(counter))}),
        "orders-list": lambda: call("GET", "/orders", token=s["reader"]),
        "users-login": lambda: call("POST", "/users/login", {"username": "benchbuyer", "password": PASSWORD}),
    }


def opcounters(uri):
    import pymongo

    admin = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000).admin

    def counted():
        c = admin.command("serverStatus")["opcounters"]
        return sum(c[k] for k in ("insert", "query", "update", "delete", "getmore", "command"))

    return counted


def opcount(uri):
    """Every command the server has counted, this reading's included."""
    print(opcounters(uri)())


def commands(base, work, uri):
    """Database commands per request, counted by the server (serverStatus'
    opcounters): N requests in a row, less what the same time counts idle
    (the driver's own monitoring), less the counting's own command."""
    counted = opcounters(uri)
    rows = []
    for name, send in case_requests(base, work).items():
        n = 20 if name == "users-login" else 100
        send()  # the instance is warm before counting
        before, started = counted(), time.monotonic()
        for _ in range(n):
            status, _, body = send()
            if status >= 300:
                raise SystemExit("%s answered %d: %s" % (name, status, body))
        busy = counted() - before - 1
        elapsed = time.monotonic() - started
        before = counted()
        time.sleep(min(elapsed, 3.0))
        idle = (counted() - before - 1) * elapsed / min(elapsed, 3.0)
        rows.append("%s %.1f" % (name, max(busy - idle, 0) / n))
    print("\n".join(rows))


def cold(base, work, rounds, log_file):
    """Every function's first answer, `rounds` times: each round sends one
    request to every function and waits until the runner (run with a short
    --idle-timeout) has stopped every instance. The runner's REPORT records
    give each instance's start-up (process start to its first poll) and its
    first invocation (which connects to MongoDB)."""
    call, s = caller(base), load_seed(work)
    statuses = {}

    def note(name, answer):
        statuses.setdefault(name, set()).add(answer[0])
        return answer

    for r in range(int(rounds)):
        tag = "%d-%d" % (time.time_ns(), r)
        note("categories", call("GET", "/categories"))
        note("products list", call("GET", "/products?category=listed"))
        note("product get", call("GET", "/products/" + s["product"]))
        status, headers, body = note("product create", call(
            "POST", "/products", {"name": "Cold " + tag, "description": "", "price": 1.5, "category": "cold"}, s["admin"]))
        if status == 201:
            note("product update", call("PATCH", "/products/" + body["id"], {"price": 2.5}, s["admin"],
                                        {"if-match": headers.get("etag", "*")}))
            note("product delete", call("DELETE", "/products/" + body["id"], token=s["admin"]))
        note("register", call("POST", "/users/register",
                              {"username": "cold" + tag.replace("-", ""), "email": "cold%s@bench.example" % tag,
                               "password": PASSWORD}))
        note("login", call("POST", "/users/login", {"username": "benchbuyer", "password": PASSWORD}))
        note("me", call("GET", "/users/me", token=s["buyer"]))
        note("password (wrong current)", call("POST", "/users/me/password",
                                              {"currentPassword": "not it at all", "newPassword": PASSWORD + "!"},
                                              s["buyer"]))
        order = {"products": [{"productId": s["product"], "quantity": 1}]}
        status, _, body = note("order create", call("POST", "/orders", order, s["buyer"],
                                                    {"idempotency-key": "cold-" + tag}))
        # The reader's 50 orders: the buyer's grow to thousands during the bench.
        note("orders list", call("GET", "/orders", token=s["reader"]))
        if status == 201:
            note("order get", call("GET", "/orders/" + body["id"], token=s["buyer"]))
            note("order pay", call("PATCH", "/orders/" + body["id"], {"status": "paid"}, s["admin"]))
            note("order cancel", call("POST", "/orders/%s/cancel" % body["id"], token=s["buyer"]))
        time.sleep(2.0)
    print("answers: " + "; ".join("%s %s" % (k, sorted(v)) for k, v in statuses.items()), file=sys.stderr)
    time.sleep(0.5)
    first = {}
    with open(log_file) as f:
        for line in f:
            if '"platform.report"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            metrics = record["record"]["metrics"]
            if "initDurationMs" in metrics:
                first.setdefault(record["function"], []).append(
                    (metrics["initDurationMs"], metrics["durationMs"]))
    rows = []
    for function, samples in sorted(first.items()):
        init = statistics.median(i for i, _ in samples)
        duration = statistics.median(d for _, d in samples)
        total = statistics.median(i + d for i, d in samples)
        rows.append("| %s | %d | %.1f | %.1f | %.1f |" % (function, len(samples), init, duration, total))
    print("\n".join(rows))


def chart(rows_file, svg_file):
    """p50 and p99 per case and connection count, as bars on a log scale."""
    import math

    rows = []
    with open(rows_file) as f:
        for line in f:
            name, connections, p50, p99 = line.split()
            rows.append(("%s ×%s" % (name, connections), float(p50), float(p99)))
    lo, hi = 0.1, 1000.0
    width, left, bar, gap = 760, 190, 9, 8
    plot = width - left - 20

    def x(ms):
        ms = min(max(ms, lo), hi)
        return left + plot * (math.log10(ms) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    height = 40 + len(rows) * (2 * bar + gap) + 30
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11" role="img" aria-label="p50 and p99 latency per case">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="16" font-size="13">Latency per case, ms (log scale): p50 dark, p99 light</text>' % left]
    for tick in (0.1, 1, 10, 100, 1000):
        out.append('<line x1="%.1f" y1="26" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x(tick), x(tick), height - 24))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (x(tick), height - 10, tick))
    y = 34
    for label, p50, p99 in rows:
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + bar + 3, label))
        for value, colour in ((p50, "#1f4e79"), (p99, "#8fb3d9")):
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (left, y, x(value) - left, bar, colour))
            out.append('<text x="%.1f" y="%d">%g</text>' % (x(value) + 3, y + bar - 1, value))
            y += bar
        y += gap
    out.append("</svg>")
    with open(svg_file, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"seed": seed, "opcount": opcount, "commands": commands, "cold": cold, "chart": chart}[command](*args)
