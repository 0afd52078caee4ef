// The page of `alphazero serve`. The rules live on the server: this script keeps the move
// string, asks /api/state and /api/think, and draws what comes back.
"use strict";

const $ = (id) => document.getElementById(id);
const COLS = 7, ROWS = 6;

const game = {
  moves: "",          // columns 1-7 played so far
  redo: [],           // moves undone, last undone last
  side: "X",          // the human's side: X, O, none (both) or watch (neither)
  sims: 200,          // the net's simulations per move (0 = raw policy)
  state: null,        // the last /api/state answer (null while a move is on its way)
  seq: 0,             // a newer request makes every older answer stale
  abort: null,        // cancels the requests of the stale step
};
const SIDES = ["X", "O", "none", "watch"];

async function getJSON(url, signal) {
  const res = await fetch(url, { signal });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

// ---- the board ------------------------------------------------------------------------

function drawBoard(el, st, lastCol, onClick) {
  el.innerHTML = "";
  const four = new Set((st.four || []).map(([r, c]) => `${r},${c}`));
  const lastRow = lastCol === null ? -1 : topRow(st.cells, lastCol);
  for (let r = ROWS - 1; r >= 0; r--) {
    for (let c = 0; c < COLS; c++) {
      const cell = document.createElement("div");
      const who = st.cells[r][c];
      cell.className = "cell" + (who === 1 ? " x" : who === 2 ? " o" : "");
      if (four.has(`${r},${c}`)) cell.classList.add("four");
      if (c === lastCol && r === lastRow) cell.classList.add("last");
      cell.dataset.col = c;
      if (onClick) {
        cell.addEventListener("click", () => onClick(c));
        cell.addEventListener("mouseenter", () => hoverColumn(el, c, true));
        cell.addEventListener("mouseleave", () => hoverColumn(el, c, false));
      }
      el.appendChild(cell);
    }
  }
}

function topRow(cells, col) {
  for (let r = ROWS - 1; r >= 0; r--) if (cells[r][col]) return r;
  return -1;
}

function hoverColumn(el, col, on) {
  for (const cell of el.querySelectorAll(`.cell[data-col="${col}"]`)) {
    if (!cell.classList.contains("x") && !cell.classList.contains("o")) {
      cell.classList.toggle("col-hover", on && !el.classList.contains("locked"));
    }
  }
}

// ---- whose turn -----------------------------------------------------------------------

function humanToMove(st) {
  if (st.over || game.side === "watch") return false;
  return game.side === "none" || st.to_move === game.side;
}

function statusText(st) {
  if (st.winner) {
    const you = game.side === st.winner ? " You win!" :
      (game.side === "X" || game.side === "O") ? " The net wins." : "";
    return `${st.winner} wins.${you}`;
  }
  if (st.draw) return "Draw: the board is full.";
  const who = humanToMove(st) ? "your move" : "the net's move";
  return `${st.to_move} to move (${who}), move ${st.ply + 1}`;
}

// ---- one step of the game -------------------------------------------------------------

async function refresh() {
  const seq = ++game.seq;
  if (game.abort) game.abort.abort();  // the server stops searching for a stale step
  game.abort = new AbortController();
  game.state = null;                   // no click counts until the new position is known
  document.body.dataset.turn = "loading";
  $("board").classList.add("locked");
  $("thinking").hidden = true;
  showError("");
  let st;
  try {
    st = await getJSON(`/api/state?moves=${game.moves}`, game.abort.signal);
  } catch (e) {
    return failed(seq, e);
  }
  if (seq !== game.seq) return;
  game.state = st;
  $("moves").value = game.moves;
  const query = new URLSearchParams({ moves: game.moves, side: game.side });
  history.replaceState(null, "", `?${query}`);
  const lastCol = game.moves ? Number(game.moves.at(-1)) - 1 : null;
  const mine = humanToMove(st);
  document.body.dataset.turn = st.over ? "over" : mine ? "human" : "net";
  $("board").classList.toggle("locked", !mine);
  drawBoard($("board"), st, lastCol, onColumn);
  $("status").textContent = statusText(st);
  $("undo").disabled = !game.moves;
  $("redo").disabled = !game.redo.length;
  clearSolver();
  if (st.over) return clearMind();
  await think(seq, st, !mine);
}

async function think(seq, st, netMoves) {
  $("thinking").hidden = false;
  let t;
  try {
    t = await getJSON(`/api/think?moves=${game.moves}&sims=${game.sims}`, game.abort.signal);
  } catch (e) {
    return failed(seq, e);
  } finally {
    if (seq === game.seq) $("thinking").hidden = true;
  }
  if (seq !== game.seq) return;
  drawMind(t);
  if (netMoves) {
    await new Promise((ok) => setTimeout(ok, game.side === "watch" ? 500 : 120));
    if (seq === game.seq) play(bestColumn(t));
  }
}

function failed(seq, e) {
  if (seq !== game.seq || e.name === "AbortError") return;
  $("thinking").hidden = true;
  showError(e.message);
}

function bestColumn(t) {
  if (t.search) return t.search.best - 1;
  let best = -1;
  t.policy.forEach((p, c) => { if (p !== null && (best < 0 || p > t.policy[best])) best = c; });
  return best;
}

function play(col) {
  game.moves += String(col + 1);
  game.redo = [];
  refresh();
}

function onColumn(col) {
  const st = game.state;
  if (!st || !humanToMove(st)) return;
  if (!st.legal[col]) return showError(`column ${col + 1} is full`);
  play(col);
}

function undo() {
  if (!game.moves) return;
  do {  // back to a position where it is the human's move (or the start)
    game.redo.push(game.moves.at(-1));
    game.moves = game.moves.slice(0, -1);
  } while (game.moves && (game.side === "X" || game.side === "O") &&
           (game.moves.length % 2 === 0 ? "X" : "O") !== game.side);
  refresh();
}

function redo() {
  if (!game.redo.length) return;
  game.moves += game.redo.pop();
  refresh();
}

// ---- what the net thinks --------------------------------------------------------------

function pct(x) { return x === null || x === undefined ? "–" : `${Math.round(100 * x)}%`; }

function drawMind(t) {
  const v = t.search ? t.search.value : t.value;
  const fill = $("gauge-fill");
  const left = 50 + 50 * Math.min(v, 0), width = 50 * Math.abs(v);
  fill.style.left = `${left}%`;
  fill.style.width = `${width}%`;
  fill.style.background = v >= 0 ? "var(--visits)" : "var(--x)";
  $("value-text").textContent = `${t.to_move}: ${v >= 0 ? "+" : ""}${v.toFixed(2)}`;
  $("value-note").textContent = t.search
    ? `Search value after ${t.sims} simulations (the net alone: ${t.value.toFixed(2)}).`
    : "The net's value, no search (−1: the side to move loses, +1: it wins).";
  drawBars($("bars"), t.policy, t.search ? t.search.shares : null,
           t.search ? t.search.q : null);
}

function clearMind() {
  $("gauge-fill").style.width = "0";
  $("value-text").textContent = "value";
  $("bars").innerHTML = "";
}

function drawBars(el, prior, visits, q) {
  el.innerHTML = "";
  for (let c = 0; c < COLS; c++) {
    const bar = document.createElement("div");
    bar.className = "bar";
    const pair = document.createElement("div");
    pair.className = "pair";
    for (const [kind, x] of [["prior", prior[c]], ["visits", visits ? visits[c] : null]]) {
      if (kind === "visits" && !visits) continue;
      const b = document.createElement("div");
      b.className = `b ${kind}`;
      b.style.height = `${Math.round(100 * (x || 0))}%`;
      b.title = `${kind} ${pct(x)}`;
      pair.appendChild(b);
    }
    bar.appendChild(pair);
    for (const [kind, x] of [["prior", prior[c]], ["visits", visits ? visits[c] : null]]) {
      if (kind === "visits" && !visits) continue;
      const num = document.createElement("div");
      num.className = `num ${kind}`;
      num.textContent = pct(x);
      bar.appendChild(num);
    }
    if (q && q[c] !== null) {
      const qn = document.createElement("div");
      qn.className = "num";
      qn.textContent = `Q ${q[c] >= 0 ? "+" : ""}${q[c].toFixed(2)}`;
      bar.appendChild(qn);
    }
    const label = document.createElement("div");
    label.textContent = c + 1;
    bar.appendChild(label);
    el.appendChild(bar);
  }
}

// ---- the solver -----------------------------------------------------------------------

function clearSolver() {
  $("solver-row").hidden = true;
  $("solver-row").innerHTML = "";
}

async function solve() {
  const seq = game.seq;
  try {
    const s = await getJSON(`/api/solve?moves=${game.moves}`);
    if (seq !== game.seq) return;
    const row = $("solver-row");
    row.innerHTML = "";
    s.verdicts.forEach((v) => {
      const cell = document.createElement("div");
      cell.className = `verdict ${v ? v.result : ""}`;
      cell.textContent = !v ? "full" : v.result === "draw" ? "draw" :
        `${v.result} in ${v.moves}`;
      row.appendChild(cell);
    });
    row.hidden = false;
  } catch (e) {
    showError(e.message);
  }
}

// ---- replay of recorded self-play games -----------------------------------------------

const replay = { positions: [], at: 0 };

async function loadRuns() {
  const { iterations } = await getJSON("/api/games");
  const sel = $("replay-iter");
  sel.innerHTML = "";
  for (const it of iterations) {
    const opt = document.createElement("option");
    opt.value = it.iteration;
    opt.textContent = `${it.iteration} (${it.games} games)`;
    sel.appendChild(opt);
  }
  $("replay").hidden = !iterations.length;
}

async function loadGame() {
  try {
    const g = await getJSON(`/api/game?iteration=${$("replay-iter").value}` +
                            `&game=${$("replay-game").value}`);
    replay.positions = g.positions;
    replay.at = 0;
    drawReplay();
  } catch (e) {
    showError(e.message);
  }
}

function drawReplay() {
  const p = replay.positions[replay.at];
  if (!p) return;
  drawBoard($("replay-board"), p, null, null);
  drawBars($("replay-bars"), p.policy, null, null);
  $("replay-pos").textContent = `position ${replay.at + 1} of ${replay.positions.length}`;
  $("replay-text").textContent = `${p.to_move} to move. Policy target (bars), result z ` +
    `${p.z > 0 ? "+1" : p.z < 0 ? "−1" : "0"}` +
    (p.q === null ? "" : `, search value q ${p.q >= 0 ? "+" : ""}${p.q.toFixed(2)}`) +
    " (from the side to move's view).";
}

function stepReplay(d) {
  replay.at = Math.max(0, Math.min(replay.positions.length - 1, replay.at + d));
  drawReplay();
}

// ---- start ----------------------------------------------------------------------------

function applyTypedMoves() {
  const typed = $("moves").value.trim();
  if (!/^[1-7]*$/.test(typed)) return showError("moves are columns 1-7, e.g. 4453");
  game.moves = typed;
  game.redo = [];
  refresh();
}

async function start() {
  const info = await getJSON("/api/info");
  $("net-info").textContent = `${info.checkpoint || "an untrained net"}, ${info.net}, ` +
    `${info.backend}`;
  const sims = $("sims");
  for (const s of [0, ...info.sims_choices]) {
    const opt = document.createElement("option");
    opt.value = s;
    opt.textContent = s ? `search, ${s} simulations` : "raw policy, no search";
    sims.appendChild(opt);
  }
  sims.value = String(info.sims_choices.includes(200) ? 200 : 0);
  game.sims = Number(sims.value);
  $("solve").hidden = !info.solver;
  const params = new URLSearchParams(location.search);
  game.moves = (params.get("moves") || "").replace(/[^1-7]/g, "");
  if (SIDES.includes(params.get("side"))) $("side").value = params.get("side");
  game.side = $("side").value;
  for (let c = 0; c < COLS; c++) {
    const n = document.createElement("div");
    n.textContent = c + 1;
    $("columns").appendChild(n);
  }
  $("side").addEventListener("change", () => { game.side = $("side").value; refresh(); });
  sims.addEventListener("change", () => { game.sims = Number(sims.value); refresh(); });
  $("new").addEventListener("click", () => { game.moves = ""; game.redo = []; refresh(); });
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("solve").addEventListener("click", solve);
  $("moves").addEventListener("keydown", (e) => { if (e.key === "Enter") applyTypedMoves(); });
  $("replay-load").addEventListener("click", loadGame);
  $("replay-prev").addEventListener("click", () => stepReplay(-1));
  $("replay-next").addEventListener("click", () => stepReplay(1));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key >= "1" && e.key <= "7") onColumn(Number(e.key) - 1);
    else if (e.key === "u") undo();
    else if (e.key === "r") redo();
  });
  if (info.run) loadRuns().catch((e) => showError(e.message));
  refresh();
}

start().catch((e) => showError(e.message));
