"""Extract Epic's face-board -> CTRL_expressions wiring into our RigLogic-style tables.

Reads the facts (control names, driven-key windows, values) from the Maya post-assemble
scripts of the public repository EpicGames/MetaHuman-DNA-Calibration, without running them:

    data/additional_assemble_script.py      -> medtalk_core/assets/face_boards/classic.csv
    data/mh4/additional_assemble_script.py  -> medtalk_core/assets/face_boards/mh4.csv

    python benchmarks/extract_face_board_wiring.py --board classic SCRIPT > classic.csv

The script wires every GUI control to raw `CTRL_expressions.*` attributes with linear driven
keys (Maya: linear between keys, constant outside them). Each pair of neighbouring keys becomes
one row `input,output,from,to,slope,cut`: RigLogic's GUI-to-raw form (`out += slope * x + cut`
while `from <= x <= to`). The gaze controls drive the raw curves through an eye locator's
rotation (control -> locator degrees -> curve); the two stages are composed here into rows on
the control itself. Left out, on purpose: `lookAtSwitch` (created by the script with addAttr:
a Maya gaze-rig switch, not a RigLogic raw control) and the neck correctives (driven by neck
joint rotations, not by the board).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PREFIX = "CTRL_expressions_"
_AXIS = {"tx": "translateX", "ty": "translateY"}
# Controls the script keys with setDrivenKeyframe but without connect_expression (no stated
# limits): the phased sliders, both [0, 1] on the board.
_SLIDER = (0.0, 1.0)
_SKIPPED_OUTPUTS = {"lookAtSwitch"}

Keys = list[tuple[float, float]]  # (driver value, driven value), sorted by driver value


def _literal(node: ast.AST):
    return ast.literal_eval(node)


def _calls(func: ast.FunctionDef, name: str):
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            yield node


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise SystemExit(f"the script has no function {name}()")


def _template(node: ast.AST, env: dict[str, str]) -> str:
    """A string or f-string argument with its {variables} filled in from `env`."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value.value)
            else:
                parts.append(env[value.value.id])
        return "".join(parts)
    raise SystemExit(f"unexpected argument {ast.unparse(node)}")


def _kwargs(call: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in call.keywords}


def _evaluate(keys: Keys, x: float) -> float:
    """Maya's linear driven-key curve: linear between keys, constant beyond the ends."""
    if x <= keys[0][0]:
        return keys[0][1]
    for (x0, y0), (x1, y1) in zip(keys, keys[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return keys[-1][1]


def _compose(outer: Keys, inner: Keys, limits: tuple[float, float]) -> Keys:
    """Keys of outer(inner(x)) over `limits`: breakpoints of inner plus preimages of outer's."""
    points = {limits[0], limits[1]} | {x for x, _ in inner if limits[0] <= x <= limits[1]}
    for (x0, y0), (x1, y1) in zip(inner, inner[1:]):
        for d, _ in outer:
            if y0 != y1 and min(y0, y1) <= d <= max(y0, y1):
                points.add(x0 + (d - y0) * (x1 - x0) / (y1 - y0))
    return [(x, _evaluate(outer, _evaluate(inner, x))) for x in sorted(points)]


def _rows(control: str, output: str, keys: Keys, limits: tuple[float, float]) -> list[tuple]:
    """RigLogic rows for one driven-key curve, checked to need no constant tail in `limits`."""
    keys = sorted(keys)
    if (keys[0][0] > limits[0] and keys[0][1] != 0) or (keys[-1][0] < limits[1] and keys[-1][1] != 0):
        raise SystemExit(f"{control} -> {output}: a non-zero constant tail inside the control's range")
    rows = []
    for (x0, y0), (x1, y1) in zip(keys, keys[1:]):
        if y0 == 0 and y1 == 0:
            continue  # contributes nothing
        slope = (y1 - y0) / (x1 - x0)
        rows.append((control, PREFIX + output, x0, x1, slope, y0 - slope * x0))
    return rows


def extract(source: str) -> list[tuple]:
    tree = ast.parse(source)
    curves: dict[tuple[str, str], Keys] = defaultdict(list)  # (driver attr, raw output) -> keys
    limits: dict[str, tuple[float, float]] = {}
    connect = _function(tree, "connect_expressions")
    for call in _calls(connect, "connect_expression"):
        ctrl, attr, lo, hi, d1, d2, exp_ctrl, output, v1, v2 = (_literal(a) for a in call.args)
        assert exp_ctrl == "CTRL_expressions", exp_ctrl
        driver = f"{ctrl}.{attr}"
        limits[driver] = (lo, hi)
        curves[(driver, output)] += [(d1, v1), (d2, v2)]
    for call in _calls(connect, "cmds_set_driven_keyframe"):
        driven, kw = _literal(call.args[0]), _kwargs(call)
        exp_ctrl, output = driven.split(".")
        assert exp_ctrl == "CTRL_expressions", exp_ctrl
        driver = _literal(kw["currentDriver"])
        limits.setdefault(driver, _SLIDER)
        curves[(driver, output)].append((_literal(kw["driverValue"]), _literal(kw["value"])))

    rows: list[tuple] = []
    for (driver, output), keys in curves.items():
        if output in _SKIPPED_OUTPUTS:
            print(f"skipped {driver} -> {output} (not a RigLogic raw control)", file=sys.stderr)
            continue
        if driver.startswith("LOC_"):
            continue  # gaze: composed with the board controls below
        ctrl, attr = driver.split(".")
        rows += _rows(f"{ctrl}-{_AXIS[attr]}", output, keys, limits[driver])
    rows += _gaze_rows(tree, curves, limits)
    return rows


def _gaze_rows(tree: ast.Module, curves, limits) -> list[tuple]:
    """Board gaze control -> UI locator rotation (eye_setup) -> raw curve (connect_expressions).

    With lookAtSwitch at 0 (the board drives the eyes) `LOC_<s>_eyeDriver` copies the rotation of
    `LOC_<s>_eyeUIDriver` (an orient constraint of weight 1), so the locator keys in
    connect_expressions apply to the UI locator's rotation.
    """
    setup, per_eye = _function(tree, "eyes_setup"), _function(tree, "eye_setup")
    names = {t.id: _literal(n.value) for n in setup.body if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    params = [a.arg for a in per_eye.args.args]
    rows: list[tuple] = []
    for call in _calls(setup, "eye_setup"):
        env = {p: names[a.id] for p, a in zip(params, call.args)}
        inner: dict[tuple[str, str], Keys] = defaultdict(list)  # (control.attr, locator.rot) -> keys
        for key in _calls(per_eye, "cmds_set_driven_keyframe"):
            kw = _kwargs(key)
            try:
                driven, driver = _template(key.args[0], env), _template(kw["currentDriver"], env)
            except KeyError:
                continue  # keys on constraint weights (the aim switch), not on the UI locator
            if driven.startswith(env["loc_ui_eye"] + "."):
                rotation = driven.replace(env["loc_ui_eye"], env["loc_eye"])
                inner[(driver, rotation)].append((_literal(kw["driverValue"]), _literal(kw["value"])))
        for (driver, rotation), in_keys in inner.items():
            ctrl, attr = driver.split(".")
            for (loc_driver, output), out_keys in curves.items():
                if loc_driver == rotation:
                    keys = _compose(sorted(out_keys), sorted(in_keys), (-1.0, 1.0))
                    rows += _rows(f"{ctrl}-{_AXIS[attr]}", output, keys, (-1.0, 1.0))
    return rows


def _number(x: float) -> str:
    text = repr(round(float(x), 12))  # 12 digits: drops binary noise of the divisions, keeps every fact
    return "0.0" if text == "-0.0" else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path, help="additional_assemble_script.py from MetaHuman-DNA-Calibration")
    parser.add_argument("--board", required=True, help="name written in the header comment (classic or mh4)")
    parser.add_argument("--source", default="", help="where the script came from (repository, path, commit)")
    args = parser.parse_args()
    rows = extract(args.script.read_text(encoding="utf-8"))
    out = sys.stdout
    out.write(f"# face board: {args.board}; facts from {args.source or args.script.name}; see README.md\n")
    out.write("input,output,from,to,slope,cut\n")
    for control, output, lo, hi, slope, cut in rows:
        out.write(f"{control},{output},{_number(lo)},{_number(hi)},{_number(slope)},{_number(cut)}\n")
    print(f"{len(rows)} rows, {len({r[0] for r in rows})} inputs, {len({r[1] for r in rows})} outputs",
          file=sys.stderr)


if __name__ == "__main__":
    main()
