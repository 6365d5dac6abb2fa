"""Unreal Editor script: import a `medtalk bake` CSV as float curves on a new AnimSequence.

Run it inside the Unreal Editor (Python Editor Script Plugin enabled), from the Output Log's
`Cmd` box switched to Python, or with `-ExecutePythonScript`:

    py "<repo>/unreal_plugin/editor_scripts/import_medtalk_csv.py" --csv D:/takes/line01.csv
       --skeleton /Game/MetaHumans/Common/Face/Face_Archetype_Skeleton --dest /Game/MEDTalk --name line01

Bake with `medtalk bake ... --curves expressions` for a stock MetaHuman: the face Anim
Blueprint passes animation curves named `CTRL_expressions_*` to RigLogic, so the sequence plays
on the face as it is. Board curves (`--curves board`) import the same way, named after the 174
controls, for a Control Rig or Anim Blueprint of your own that reads them.

A take with head motion (format version 2, the default bake) also brings the nine rotation
curves (`HeadYaw` ... `RightEyeRoll`, the names the plugin's Live Link stream uses, so one Anim
Blueprint recipe reads both) and keys the head: the `--head-bone` track (default `head`) gets the
skeleton's reference rotation turned by the take's yaw, pitch and roll about `--head-axes`.
Neither the bone's axes nor whether a MetaHuman face follows its own head keys has been checked in
an editor (unreal_plugin/README.md); `--head-bone ""` skips the keys.

Written against the UE 5.3+ Python API (AnimSequenceFactory, AnimationDataController,
AnimationLibrary); it has NOT been run here (no Unreal Editor on our machines). The CSV parsing
is `medtalk_csv.py` beside this file, which our tests run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # Unreal runs this file as a script

import unreal  # noqa: E402  (only inside the editor)

from medtalk_csv import DEFAULT_HEAD_AXES, head_bone_rotations, parse_head_axes, read_baked_csv, reduce_keys  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="import_medtalk_csv", description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="a CSV written by `medtalk bake`")
    parser.add_argument("--skeleton", required=True, help="skeleton asset path, e.g. the MetaHuman face skeleton")
    parser.add_argument("--dest", default="/Game/MEDTalk", help="content folder for the new AnimSequence")
    parser.add_argument("--name", help="asset name (default: the CSV file name)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="drop keys that linear interpolation reproduces within this (0 keeps every frame)")
    parser.add_argument("--head-bone", default="head",
                        help="bone keyed with the take's head rotation (default head; empty: no bone keys)")
    parser.add_argument("--head-axes", default=DEFAULT_HEAD_AXES,
                        help=f"the head bone's local axis and sign for each angle (default {DEFAULT_HEAD_AXES}; "
                             "not verified on a MetaHuman)")
    return parser.parse_args(argv)


def create_sequence(dest: str, name: str, skeleton: "unreal.Skeleton") -> "unreal.AnimSequence":
    factory = unreal.AnimSequenceFactory()
    factory.set_editor_property("target_skeleton", skeleton)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    anim = tools.create_asset(name, dest, unreal.AnimSequence, factory)
    if anim is None:
        raise RuntimeError(f"could not create {dest}/{name} (does it exist already?)")
    return anim


def key_head_bone(controller: "unreal.AnimationDataController", skeleton: "unreal.Skeleton", take,
                  bone: str, axes: str) -> bool:
    """One key per frame on `bone`: its reference pose turned by the take's head angles. False
    (and a warning) when the skeleton has no such bone."""
    pose = unreal.AnimPoseExtensions.get_reference_pose(skeleton)
    if bone not in [str(b) for b in unreal.AnimPoseExtensions.get_bone_names(pose)]:
        unreal.log_warning(f"MEDTalk: the skeleton has no bone {bone!r}; head rotation kept as curves only")
        return False
    rest = unreal.AnimPoseExtensions.get_ref_bone_pose(pose, bone, unreal.AnimPoseSpaces.LOCAL)
    q = rest.rotation
    rotations = head_bone_rotations(take, (q.x, q.y, q.z, q.w), parse_head_axes(axes))
    controller.add_bone_curve(bone, True)
    count = len(rotations)
    controller.set_bone_track_keys(bone, [rest.translation] * count, [unreal.Quat(*r) for r in rotations],
                                   [rest.scale3d] * count, True)
    return True


def import_csv(csv_path: str, skeleton_path: str, dest: str, name: str | None, tolerance: float,
               head_bone: str = "head", head_axes: str = DEFAULT_HEAD_AXES) -> "unreal.AnimSequence":
    take = read_baked_csv(csv_path)
    if take.rotations and head_bone:
        parse_head_axes(head_axes)  # a mistyped --head-axes fails before any asset is made
    skeleton = unreal.load_asset(skeleton_path)
    if skeleton is None:
        raise RuntimeError(f"skeleton not found: {skeleton_path}")
    anim = create_sequence(dest, name or Path(csv_path).stem, skeleton)
    fps = int(round(take.fps))
    controller = anim.get_editor_property("controller")
    cancelled = False
    # The bracket groups every change into one undo step; it must be closed even when a call
    # inside raises, or the controller stays in a bracket for the rest of the editor session.
    controller.open_bracket(unreal.Text("Import MEDTalk curves"), True)
    try:
        controller.set_frame_rate(unreal.FrameRate(fps, 1), True)
        controller.set_number_of_frames(unreal.FrameNumber(max(take.num_frames - 1, 1)), True)
        curves = {**take.curves, **take.rotations}
        with unreal.ScopedSlowTask(len(curves), f"Importing {len(curves)} MEDTalk curves") as task:
            task.make_dialog(True)
            for curve, values in curves.items():
                if task.should_cancel():
                    cancelled = True
                    break
                task.enter_progress_frame(1, curve)
                keys = reduce_keys(take.times, values, tolerance) if tolerance > 0 else list(zip(take.times, values))
                unreal.AnimationLibrary.add_curve(anim, curve, unreal.RawCurveTrackTypes.RCT_FLOAT, False)
                unreal.AnimationLibrary.add_float_curve_keys(anim, curve, [t for t, _ in keys], [v for _, v in keys])
        keyed = not cancelled and bool(take.rotations and head_bone) and \
            key_head_bone(controller, skeleton, take, head_bone, head_axes)
    finally:
        controller.close_bracket(True)
    if cancelled:
        # A half-imported sequence is not saved: the new asset stays unsaved in memory (the
        # editor asks about it on exit), so nothing partial lands on disk.
        unreal.log_warning(f"MEDTalk: import cancelled; {anim.get_path_name()} was not saved")
        return anim
    unreal.EditorAssetLibrary.save_loaded_asset(anim)
    unreal.log(f"MEDTalk: {anim.get_path_name()}: {len(take.curves)} {take.kind} curves, "
               f"{len(take.rotations)} rotation curves{f', {head_bone} keyed' if keyed else ''}, "
               f"{take.num_frames} frames at {fps} fps")
    if take.duplicates:
        unreal.log_warning(f"MEDTalk: repeated columns kept once: {', '.join(sorted(set(take.duplicates)))}")
    return anim


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import_csv(args.csv, args.skeleton, args.dest, args.name, args.tolerance, args.head_bone, args.head_axes)


if __name__ == "__main__":
    main()
