"""``alphazero serve``: the JSON API with the framework's test client (real net, real rules),
the bound on searches, and the page in a real browser. Skipped without the web extra."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with __import__("warnings").catch_warnings():  # starlette suggests httpx2; httpx still works
    __import__("warnings").simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from alphazero.apps.serve import BadRequest, Limits, Thinker, build  # noqa: E402
from alphazero.core.config import Config, MCTSConfig, NetConfig, SelfPlayConfig  # noqa: E402
from alphazero.nn.checkpoint import default_path, save  # noqa: E402
from alphazero.nn.net import build_net  # noqa: E402
from alphazero.rules import solver  # noqa: E402
from alphazero.rules.game import State  # noqa: E402
from alphazero.stages.workers import run_pool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder with one iteration of 4 self-play games of a tiny net."""
    root = tmp_path_factory.mktemp("run")
    ck = root / "tiny.pt"
    save(ck, build_net(NetConfig(preset="tiny")))
    sp = SelfPlayConfig(games=4, parallel_games=4, chunk_games=2)
    run_pool(str(ck), NetConfig(preset="tiny"), MCTSConfig(num_simulations=8), sp,
             str(root / "data" / "iter_0001"))
    return root


@pytest.fixture(scope="module")
def client(run_dir):
    app = build(default_path(), str(run_dir), Limits(max_sims=400, searches=2), Config())
    with TestClient(app) as c:
        yield c


def test_the_api_plays_thinks_and_replays(client):
    info = client.get("/api/info").json()
    assert info["net"] == "small (5x64)" and info["max_sims"] == 400 and info["run"]
    st = client.get("/api/state", params={"moves": "4453"}).json()
    assert st["to_move"] == "X" and st["ply"] == 4 and not st["over"]
    assert st["cells"][0][3] == 1 and st["cells"][1][3] == 2 and st["cells"][0][2] == 2
    won = client.get("/api/state", params={"moves": "1212121"}).json()
    assert won["over"] and won["winner"] == "X" and sorted(won["four"]) == [[0, 0], [1, 0],
                                                                            [2, 0], [3, 0]]
    t = client.get("/api/think", params={"moves": "445566", "sims": 64}).json()
    assert t["search"]["best"] in (3, 7) and t["search"]["value"] > 0.5  # a win in one
    assert abs(sum(x for x in t["search"]["shares"] if x) - 1) < 1e-5
    raw = client.get("/api/think", params={"moves": "", "sims": 0}).json()
    assert raw["search"] is None and abs(sum(raw["policy"]) - 1) < 1e-5
    games = client.get("/api/games").json()["iterations"]
    assert games == [{"iteration": 1, "games": 4}]
    g = client.get("/api/game", params={"iteration": 1, "game": 3}).json()
    assert g["positions"] and g["positions"][0]["ply"] == 0
    assert all(abs(sum(p["policy"]) - 1) < 1e-5 and p["z"] in (-1, 0, 1) for p in g["positions"])
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_the_solver_gives_verdicts_in_moves(client):
    if not solver.available():
        pytest.skip("the solver extra is not installed here")
    s = client.get("/api/solve", params={"moves": "445566"}).json()
    assert s["verdicts"][2] == {"result": "win", "moves": 1}
    assert [v["result"] for v in s["verdicts"]].count("win") == 7
    s = client.get("/api/solve", params={"moves": "44556"}).json()  # X threatens both ends
    assert all(v == {"result": "loss", "moves": 1} for v in s["verdicts"])


MALFORMED = [
    ("/api/state", {"moves": "44x"}, 400), ("/api/state", {"moves": "0"}, 400),
    ("/api/state", {"moves": "8"}, 400), ("/api/state", {"moves": "4444444"}, 400),
    ("/api/state", {"moves": "1" * 500}, 400), ("/api/state", {"moves": "-4"}, 400),
    ("/api/think", {"moves": "1212121"}, 400),            # the game is over
    ("/api/think", {"moves": "12121212"}, 400),           # a move after the game ended
    ("/api/think", {"moves": "4", "sims": "-1"}, 400), ("/api/think", {"sims": "401"}, 400),
    ("/api/think", {"sims": "abc"}, 400), ("/api/think", {"sims": "1e9"}, 400),
    ("/api/think", {"sims": "99999999999999999999"}, 400),
    ("/api/game", {"iteration": "2", "game": "0"}, 404),  # no such iteration
    ("/api/game", {"iteration": "1", "game": "4"}, 404),  # no such game
    ("/api/game", {"iteration": "../..", "game": "0"}, 400),  # never a path
    ("/api/game", {"iteration": "1", "game": "-1"}, 400),
    ("/api/game", {"iteration": "0"}, 400),
    ("/api/nothing", {}, 404), ("/static/../config.py", {}, 404),
]


def test_malformed_requests_get_a_4xx_with_one_line_and_the_server_goes_on(client):
    for path, params, status in MALFORMED:
        res = client.get(path, params=params)
        assert res.status_code == status, (path, params, res.text)
        message = res.json()["error"]
        assert message and "\n" not in message and "Traceback" not in message, message
    assert client.get("/api/think", params={"moves": "4", "sims": 8}).status_code == 200


def test_searches_beyond_the_queue_get_a_503_at_once():
    blocked = threading.Event()

    def slow(boards):  # an evaluator that holds its search until released
        blocked.wait(10)
        return np.full((len(boards), 7), 1 / 7, np.float32), np.zeros(len(boards), np.float32)

    async def scenario():
        thinker = Thinker([slow], MCTSConfig(num_simulations=4), Limits(4, 1, queue=1))
        first = asyncio.create_task(thinker.think(State(), 0))   # runs
        await asyncio.sleep(0.05)
        second = asyncio.create_task(thinker.think(State(), 0))  # waits in the queue
        await asyncio.sleep(0.05)
        with pytest.raises(BadRequest) as busy:                  # beyond it: refused at once
            await thinker.think(State(), 0)
        assert busy.value.status == 503 and "busy" in str(busy.value)
        blocked.set()
        return await first, await second

    first, second = asyncio.run(scenario())
    assert first["value"] == 0.0 and second["value"] == 0.0


# ------------------------------------------------------------------------------------------
# The page in a real browser
# ------------------------------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _browser():
    """Playwright's Chromium driver over the system's Chromium, or a skip (never in CI)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if exe is None or sync_playwright is None:
        reason = ("no Chromium here: apt-get install chromium" if exe is None
                  else "playwright is not installed: pip install -e '.[dev]'")
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    return sync_playwright, exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(run_dir):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "alphazero", "serve", "--port", str(port),
                             "--run", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "api/info", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


# The page says whose turn it is on <body data-turn>: loading, human, net or over.
YOUR_TURN_OR_OVER = """() => {
    const turn = document.body.dataset.turn;
    return turn === 'over' || (turn === 'human' && document.querySelector('#thinking').hidden);
}"""


def test_a_whole_game_in_the_browser(server, tmp_path):
    sync_playwright, exe = _browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 820})
        page.goto(server)
        page.select_option("#sims", "0")  # the raw policy: instant replies
        page.wait_for_selector("#board .cell")
        clicks = 0
        while True:  # as X, always the leftmost open column, until the game ends
            page.wait_for_function(YOUR_TURN_OR_OVER)
            status = page.text_content("#status")
            if "wins" in status or "Draw" in status:
                break
            moves = page.input_value("#moves")
            col = next(c for c in range(7) if State.from_moves(moves).is_legal(c))
            page.click(f"#board .cell[data-col='{col}'] >> nth=0")
            page.wait_for_function(f"() => document.querySelector('#moves').value.length > "
                                   f"{len(moves)}")
            clicks += 1
        moves = page.input_value("#moves")
        final = State.from_moves(moves)
        assert final.is_terminal() and clicks >= 4
        stones = page.locator("#board .cell.x, #board .cell.o").count()
        assert stones == len(moves)
        winner = "X" if len(moves) % 2 else "O"
        assert (f"{winner} wins" in status) if final.result() == -1 else "Draw" in status
        assert page.locator("#board .cell.four").count() >= 4 or final.result() == 0
        assert f"moves={moves}" in page.url  # the position is shareable
        page.screenshot(path=str(tmp_path / "game.png"))
        page.click("#undo")  # back to the human's last move: the game goes on
        page.wait_for_function(f"() => document.querySelector('#moves').value.length < "
                               f"{len(moves)}")
        undone = page.input_value("#moves")
        assert len(undone) % 2 == 0 and not State.from_moves(undone).is_terminal()
        assert "your move" in page.text_content("#status")
        browser.close()
    assert (tmp_path / "game.png").stat().st_size > 10_000


def test_serve_refuses_bad_arguments_in_one_line(tmp_path):
    from .test_cli import assert_user_error, az

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert_user_error(az("serve", "--port", port), "cannot listen", str(port))
    assert_user_error(az("serve", "--port", "70000"), "out of range")
    assert_user_error(az("serve", "--run", tmp_path), "not a run folder")
    assert_user_error(az("serve", "--checkpoint", tmp_path / "none.pt"), "not found")
    assert_user_error(az("serve", "--searches", "0"), "--searches")
