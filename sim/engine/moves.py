"""Carrying out moves: a move's position, its effects (now, lagged, spread over turns, for a
duration), and the flights that carry what lands later."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import rng
from .rules import NO_LIMIT, CompiledEffect


@dataclass
class Flight:
    """Something in flight: a lagged effect, a duration, or the news of a spread change."""

    kind: str  # "effect" | "rate" (news of a spread change starting, when recording) | "expire"
    turn: int  # when it lands
    worlds: np.ndarray
    option: int = -1
    actor: str | None = None
    subject: str | None = None
    effect: CompiledEffect | None = None
    deltas: np.ndarray | None = None  # per world (a rate: its whole change)
    reverts: list = field(default_factory=list)  # (var, worlds, deltas) undone when a duration ends

    def remap(self, copies: int) -> Flight:
        """The same flight for `copies` rollouts of every world."""
        worlds = (self.worlds[:, None] * copies + np.arange(copies)).ravel()
        rep = lambda a: None if a is None else np.repeat(a, copies)  # noqa: E731
        reverts = [(v, (w[:, None] * copies + np.arange(copies)).ravel(), rep(d)) for v, w, d in self.reverts]
        return replace(self, worlds=worlds, deltas=rep(self.deltas), reverts=reverts)


class Moves:
    """How the engine carries out the moves its actors take."""

    def _take(self, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        rules, st = self.rules, self.state
        cell = opts * st.size + worlds  # flat indices: a 1-D fancy index costs half a 2-D one
        _flat(st.counts)[cell] += 1
        if rules.takes_several:  # options that may be taken again this turn count their uses (Processes._open_again)
            several = rules.several[opts]
            st.turn_uses[opts[several], worlds[several]] += 1
        blocked = _flat(st.blocked.T)
        blocked[cell] = turn + rules.blocks[opts]
        limited = rules.max_per_year[opts] < NO_LIMIT
        if limited.any():
            cell, o = cell[limited], opts[limited]
            year_count = _flat(st.year_count)
            year_count[cell] += 1
            cell = cell[year_count[cell] >= rules.max_per_year[o]]
            blocked[cell] = np.maximum(blocked[cell], rules.next_year[turn])
        prepared = rules.prepare[opts] > 0
        if prepared.any():
            st.ready[opts[prepared], worlds[prepared]] = turn + rules.prepare[opts[prepared]]
            known = rules.knowledge
            for c, i in enumerate(known.covert):  # a new covert preparation: nobody has detected it yet
                st.detected[worlds[prepared & (opts == i)], c] = False
            for i, rows in _cohorts(np.where(prepared, opts, -1)) if self.record else ():
                o = rules.options[i]
                event = self._log(turn, "prepare", worlds[rows], actor=o.actor, subject=o.id,
                                  data={"visible": o.visible, "ready": turn + o.prepare}, seen_by=None if o.visible else {o.actor: True})
                if not o.visible:  # a detection marks when the detector learned of it
                    self.covert_records.setdefault(i, []).append(event)
            opts, worlds = opts[~prepared], worlds[~prepared]
        if len(worlds):
            self._execute(opts, worlds, turn)

    def _execute(self, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        """The moves happen, in worlds still being played: success, position, effects; then what
        is particular to some options."""
        rules, st = self.rules, self.state
        if not len(worlds):
            return
        a = int(rules.option_actor[opts[0]])
        st.memory.record(opts, worlds, turn)
        mark = len(self.log.records)  # the moves are logged here, before what they cause
        self._move_position(a, opts, worlds, turn)
        success = np.ones(len(worlds), dtype=bool)
        odds = self._odds(opts, worlds)
        risky = (odds < 1).nonzero()[0]  # a draw only where the move may fail
        if len(risky):
            o = opts[risky]
            success[risky] = rng.uniform(st.stream[worlds[risky]], rng.key("success"), turn, rules.option_key[o]) < odds[risky]
        changes = self._table_effects(a, opts, worlds, success, turn)
        # One option at a time only where needed: special options, or everything when recording.
        for i, rows in _cohorts(opts if self.record else np.where(rules.special[opts], opts, -1)):
            self._particular(i, worlds[rows], success[rows], turn, {v: c[rows] for v, c in changes.items()}, mark)
            mark += 1

    def _odds(self, opts: np.ndarray, worlds: np.ndarray) -> np.ndarray:
        """Each move's chance of success: its option's, or its world's where that varies per world."""
        odds = self.rules.success[opts]
        for i, column in self.params.success.items() if self.params else ():
            taken = opts == i
            odds[taken] = column[worlds[taken]]
        return odds

    def _particular(self, i: int, worlds: np.ndarray, success: np.ndarray, turn: int, changes: dict, mark: int) -> None:
        rules, st = self.rules, self.state
        o = rules.options[i]
        if o.proposes:
            self._propose(i, worlds, turn, mark)
            return
        if o.answers:
            self._answer(rules.actor_index[o.actor], o.answers.topic, o.answers.accept, worlds, turn)
        reverts: list = []
        later = self._effects(rules.later_effects[i], worlds, success, turn, o.actor, o.id, reverts)
        for var, column in later.items():
            applied = ~np.isnan(column)
            _add(changes, var, len(worlds), applied, column[applied])
        if self.record:  # who saw the move (`_seen`): for the log only
            self._log(turn, "move", worlds, actor=o.actor, subject=o.id, data={"success": success, "changes": changes}, at=mark,
                      seen_by=self._seen(i, worlds))
        if o.duration and reverts:
            self._fly(Flight("expire", turn + o.duration, worlds, option=i, actor=o.actor, subject=o.id, reverts=reverts))
        for j in rules.crosses[i].nonzero()[0]:
            new = worlds[success & ~st.red_line[worlds, j]]
            st.red_line[new, j] = True
            st.red_line_turn[new, j] = turn
            self._log(turn, "red_line", new, actor=rules.red_lines[j].owner, subject=rules.red_lines[j].id, data={"by": o.id},
                      seen_by=self._seen(i, new))
        if rules.ends_game[i] >= 0:
            self._end(worlds[success], rules.ends_game[i], turn, cause=o.id)

    def _table_effects(self, a: int, opts: np.ndarray, worlds: np.ndarray, success: np.ndarray, turn: int) -> dict:
        """The immediate, additive effects of one actor's moves, in all their worlds at once."""
        rules, st = self.rules, self.state
        table = rules.tables[a]
        if not len(table.cols):
            return {}
        k = opts - rules.actor_slice[a].start
        # np.take along the options: a third faster than indexing [:, k]
        delta = np.take(table.on_success, k, axis=1)
        failed = (~success).nonzero()[0]  # few moves fail: their columns are replaced
        if len(failed):
            delta[:, failed] = np.take(table.on_failure, k[failed], axis=1)
        if len(table.uncertain):  # one draw for all the uncertain cells of the moves taken (few)
            u, (sd_success, sd_failure) = table.uncertain, table.uncertain_sd
            sd = np.take(sd_success, k, axis=1)
            if len(failed):
                sd[:, failed] = np.take(sd_failure, k[failed], axis=1)
            row, move = _nonzero(sd)
            z = rng.normal(st.stream[worlds[move]], rng.key("effect"), turn, table.keys[u[row], k[move]])
            delta[u[row], move] += sd[row, move] * z
        per_world = self.cells[a] if self.cells else None
        if per_world:
            self._cells_per_world(per_world, table, k, worlds, success, turn, delta)
        cells = np.add.outer(table.cols * st.size, worlds)  # [C, worlds], flat: see _flat
        values = _flat(st.vars)
        before = values[cells]
        after = np.add(before, delta, out=delta)
        np.minimum(after, rules.vmax[table.cols, None], out=after)
        np.maximum(after, rules.vmin[table.cols, None], out=after)
        values[cells] = after
        if not self.record:
            return {}
        applied = np.where(success, table.success[:, k], table.failure[:, k]) + table.always[:, k] != 0
        for c, kc, succeeds, fails, always, _, _ in per_world.cells if per_world else ():
            m = (k == kc).nonzero()[0]
            w = worlds[m]
            applied[c, m] = np.where(success[m], succeeds[w], fails[w]) + always[w] != 0
        change = np.where(applied, after - before, np.nan)
        return {rules.var_names[v]: change[c] for c, v in enumerate(table.cols) if applied[c].any()}

    def _cells_per_world(self, cells, table, k: np.ndarray, worlds: np.ndarray, success: np.ndarray, turn: int,
                         delta: np.ndarray) -> None:
        """The table's cells whose effects vary per world, each move's column worked out again
        with its world's numbers (`params.Cells`), by the same operations as above."""
        st = self.state
        for c, kc, succeeds, fails, always, sd_s, sd_f in cells.cells:
            m = (k == kc).nonzero()[0]
            if not len(m):
                continue
            w, ok = worlds[m], success[m]
            column = np.where(ok, succeeds[w] + always[w], fails[w] + always[w])
            sd = np.where(ok, sd_s[w], sd_f[w])
            r = sd.nonzero()[0]
            if len(r):
                z = rng.normal(st.stream[w[r]], rng.key("effect"), turn, np.full(len(r), table.keys[c, kc]))
                column[r] += sd[r] * z
            delta[c, m] = column

    def _seen(self, i: int, worlds: np.ndarray) -> dict | None:
        """Who sees option i carried out in these worlds: everyone (None), unless it is not
        attributed: then its actor, and those who detected its preparation."""
        rules = self.rules
        known = rules.knowledge
        if not known.unattributed[i]:
            return None
        a = int(rules.option_actor[i])
        seen = {rules.actors[a]: True}
        c = known.covert_index.get(i)
        for b, _ in known.detect[c] if c is not None else ():
            seen[rules.actors[b]] = self.state.detected[worlds, c, b]
        return seen

    def _move_position(self, a: int, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        st, rules = self.state, self.rules
        position, peak = st.position[:, a], st.peak[:, a]  # contiguous columns: 1-D indexing
        pos = np.maximum(position[worlds], rules.climbs_to[opts])  # a move up raises a position to its level,
        np.minimum(pos, rules.falls_to[opts], out=pos)  # a move down lowers it to its level
        position[worlds] = pos
        if "seen_position" in vars(st):  # as others see it: moves not attributed leave it as it was
            seen = ~rules.knowledge.unattributed[opts]
            w, o = worlds[seen], opts[seen]
            column = st.seen_position[:, a]
            column[w] = np.minimum(np.maximum(column[w], rules.climbs_to[o]), rules.falls_to[o])
        before = peak[worlds]
        peak[worlds] = np.maximum(before, pos)
        up = pos > before
        climbers, climbed = worlds[up], pos[up]  # a threshold above 0 is first crossed at a new peak
        for j in (rules.threshold_levels <= rules.level[opts].max()).nonzero()[0]:
            level = rules.threshold_levels[j]
            w, p = (climbers, climbed) if level > 0 else (worlds, pos)
            crossed = st.threshold_turn[:, j]
            new = w[p >= level]
            new = new[crossed[new] < 0]
            if len(new):
                crossed[new] = turn
                if self.record:  # who saw it, for the log only (np.isin is a sort of all the moves)
                    hidden = rules.knowledge.unattributed[opts[np.isin(worlds, new)]]
                    seen = {rules.actors[a]: True, **{b: ~hidden for b in rules.actors if b != rules.actors[a]}} if hidden.any() else None
                    self._log(turn, "threshold", new, actor=rules.actors[a], subject=rules.scenario.ladder.thresholds[j].id, seen_by=seen)

    def _effects(self, effects, worlds, success, turn, actor, subject, reverts=None) -> dict:
        """Apply what happens now and schedule the rest; returns the immediate changes (when recording)."""
        st, rules = self.state, self.rules
        changes: dict[str, np.ndarray] = {}
        chosen: dict[str, tuple] = {}  # (selection, worlds) of each `when`, found once
        for e in effects:
            if e.when not in chosen:
                sel = success if e.when == "success" else ~success if e.when == "failure" else slice(None)
                chosen[e.when] = sel, worlds[sel]
            sel, w = chosen[e.when]
            if not len(w):
                continue
            if e.set is not None:
                column = st.vars[:, e.var]
                before = column[w]
                column[w] = e.set
                if self.record:
                    _add(changes, rules.var_names[e.var], len(worlds), sel, e.set - before)
                continue
            deltas = e.delta  # the same in every world unless uncertain, or given per world
            if self.deltas and e.key in self.deltas:  # (single precision where uncertain: as a number times the draw is)
                deltas = self.deltas[e.key][w].astype(np.float32 if e.uncertainty else float)
            if e.uncertainty:
                deltas = deltas * (1.0 + e.uncertainty * rng.normal(st.stream[w], rng.key("effect"), turn, e.key))
            per_world = lambda d: d if isinstance(d, np.ndarray) else np.full(len(w), d)  # noqa: E731  (what outlives this call)
            if e.revert and reverts is not None:
                reverts.append((e.var, w, per_world(-deltas)))
            if e.over > 1:
                self._spread(e, w, deltas / e.over, turn, actor, subject)
            elif e.lag:
                self._fly(Flight("effect", turn + e.lag, w, actor=actor, subject=subject, effect=e, deltas=per_world(deltas)))
            else:
                if e.sanction:
                    deltas = deltas * st.sanction_scale(turn, w)
                applied = self._apply(e.var, w, deltas)
                if self.record:
                    _add(changes, rules.var_names[e.var], len(worlds), sel, applied)
        return changes

    def _spread(self, e: CompiledEffect, worlds: np.ndarray, per_turn, turn: int, actor, subject) -> None:
        """A change spread over turns: `per_turn` joins its rate after the lag, for `over` turns.

        Booked in the state, so nothing is in flight; when recording, a flight brings the news
        when the change starts acting."""
        st, rules = self.state, self.rules
        r, ring = rules.rate_index[(e.sanction, e.var)], rules.rate_turns
        st.rate_change[r][:, (turn + e.lag) % ring][worlds] += per_turn
        st.rate_change[r][:, (turn + e.lag + e.over) % ring][worlds] -= per_turn
        if self.record:
            news = Flight("rate", turn + e.lag, worlds, actor=actor, subject=subject, effect=e,
                          deltas=np.broadcast_to(per_turn * e.over, len(worlds)).copy())
            if e.lag:
                self._fly(news)
            else:
                self._land(news)

    def _apply(self, var: int, worlds: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        st, rules = self.state, self.rules
        column = st.vars[:, var]
        before = column[worlds]
        after = before + deltas
        np.maximum(after, rules.vmin[var], out=after)  # np.clip's own overhead is larger than its work here
        np.minimum(after, rules.vmax[var], out=after)
        column[worlds] = after
        return after - before if self.record else None

    def _land(self, f: Flight) -> None:
        """Carry out what a flight brings (news for those who saw its move, if it was not attributed)."""
        st, rules = self.state, self.rules
        live = st.active[f.worlds]
        worlds = f.worlds[live]
        i = rules.option_index.get(f.subject, -1) if f.actor else -1
        seen = self._seen(i, worlds) if i >= 0 else None  # as its move was seen
        if f.kind == "effect":
            deltas = f.deltas[live] * (st.sanction_scale(f.turn, worlds) if f.effect.sanction else 1.0)
            applied = self._apply(f.effect.var, worlds, deltas)
            if self.record:
                data = {"var": rules.var_names[f.effect.var], "delta": applied, "turns": 1}
                self._log(f.turn, "effect", worlds, actor=f.actor, subject=f.subject, data=data, seen_by=seen)
        elif f.kind == "rate":  # news only: the rate itself is booked in the state (`_spread`)
            data = {"var": rules.var_names[f.effect.var], "delta": f.deltas[live], "turns": f.effect.over}
            self._log(f.turn, "effect", worlds, actor=f.actor, subject=f.subject, data=data, seen_by=seen)
        elif f.kind == "expire":
            changes: dict = {}
            for var, w, d in f.reverts:
                keep = st.active[w]
                applied = self._apply(var, w[keep], d[keep])
                if self.record:
                    _add(changes, rules.var_names[var], len(worlds), np.isin(worlds, w[keep]), applied)
            self._log(f.turn, "expire", worlds, actor=f.actor, subject=f.subject, data={"changes": changes}, seen_by=seen)


def _add(changes: dict, name: str, size: int, where: np.ndarray, values: np.ndarray) -> None:
    """Accumulate per-world changes of a variable; NaN marks worlds where it did not change."""
    column = changes.setdefault(name, np.full(size, np.nan))
    column[where] = np.nan_to_num(column[where]) + values


def _cohorts(keys: np.ndarray):
    """(key, row indices) for each distinct non-negative key, rows ascending within each."""
    rows = (keys >= 0).nonzero()[0]
    present = keys[rows]
    if len(rows) and present.max() < 2**15:
        present = present.astype(np.int16)  # a stable sort of small integers is a radix sort: 8x faster
    order = rows[np.argsort(present, kind="stable")]
    ordered = keys[order]
    cuts = ((ordered[1:] != ordered[:-1]).nonzero()[0] + 1).tolist()
    for lo, hi in zip([0, *cuts], [*cuts, len(order)]):
        if hi > lo:
            yield int(ordered[lo]), order[lo:hi]


def _nonzero(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the non-zero elements of a C-contiguous 2-D array, in a.nonzero()'s
    order: a 1-D nonzero and a division, several times faster than a 2-D nonzero."""
    return np.divmod(a.ravel().nonzero()[0], a.shape[1])


def _rank(keys: np.ndarray) -> np.ndarray:
    """For each element, how many equal keys come before it."""
    if not len(keys) or np.bincount(keys).max() < 2:  # the common case: no key repeats
        return np.zeros(len(keys), dtype=int)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.r_[0, (ordered[1:] != ordered[:-1]).nonzero()[0] + 1]
    rank = np.empty(len(keys), dtype=int)
    rank[order] = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    return rank


def _flat(a: np.ndarray) -> np.ndarray:
    """A flat view of a column-major [world, x] array, where (w, x) is at x * worlds + w."""
    return a.T.reshape(-1, copy=False)
