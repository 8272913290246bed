"""The floors a new default model must clear, read from two evaluation reports."""

from __future__ import annotations

import copy

from training.evaluation.floors import checks_markdown, floor_checks, floors_hold, main, merged_reports


def _report(r_precision: float, difference: tuple[float, float, float], transposition: float, key: float,
            essentia: float, choir_fires: float) -> dict:
    mean, low, high = difference
    same = {"r_precision": r_precision, "map": r_precision + 0.05,
            "minus_logmel_stats": {"r_precision": {"mean": mean, "ci95": [low, high]}}}
    return {
        "model": "default",
        "renders": {"key": {"model": {"clean": {"all": {"mirex": key}}},
                            "essentia": {"clean": {"all": {"mirex": essentia}}}},
                    "tags": {"choir": {"ap": 0.7}}},
        "soundtracks": {
            "similarity": {"model": {"same_soundtrack": {"r_precision": r_precision, "map": r_precision},
                                     "excerpt_96kbps": {"top1": 0.8}, "version_pairs": {"top1": 1.0},
                                     "library_excerpt_96kbps": {"same_soundtrack": same, "same_recording_top1": 0.99}}},
            "transposition_consistency": {"model": {"rate": transposition}},
            "tags_on_real_music": {"tags": {"choir": {"fires_at_threshold": choir_fires, "shown": True},
                                            "synth": {"fires_at_threshold": 0.9, "shown": False}}},
        },
    }


def _by_measure(checks):
    return {check.measure: check for check in checks}


def test_a_candidate_better_everywhere_clears_every_floor_but_not_a_missed_target():
    incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.85, 0.90, 0.93, 0.40)
    candidate = _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.91, 0.93, 0.30)
    checks = floor_checks(candidate, incumbent)
    assert floors_hold(checks)
    measures = _by_measure(checks)
    target = measures["stored vectors minus log-mel, R-precision (mean >= 0.08, interval lower end > 0)"]
    assert target.kind == "target" and target.holds is False  # +0.07 misses +0.08, written down all the same
    assert measures["renders key MIREX >= Essentia, clean"].holds is False
    assert "shown tag synth fires on real tracks" not in measures  # a hidden tag is not a fact the product shows
    assert "| floor | transposition consistency at today's level | 0.920 | 0.850 |  | yes |" in checks_markdown(checks, "v1.3")


def test_each_floor_fails_on_its_own():
    incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.85, 0.90, 0.93, 0.40)
    good = _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.91, 0.93, 0.30)
    failing = {
        "stored vectors minus log-mel, R-precision (95 % interval upper end)": _report(0.45, (-0.05, -0.08, -0.01), 0.92, 0.91, 0.93, 0.30),
        "not below the shipped model: renders key MIREX, clean": _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.89, 0.93, 0.30),
        "not below the shipped model: transposition consistency": _report(0.45, (0.07, 0.04, 0.10), 0.84, 0.91, 0.93, 0.30),
        "shown tag choir fires on real tracks": _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.91, 0.93, 0.6),
    }
    assert floors_hold(floor_checks(good, incumbent))
    for measure, candidate in failing.items():
        checks = floor_checks(candidate, incumbent)
        assert not floors_hold(checks), measure
        assert [c.measure for c in checks if c.kind == "floor" and c.holds is False][0].startswith(measure.split(",")[0])


def test_a_measure_the_incumbent_lacks_is_reported_as_not_measured():
    incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.85, 0.90, 0.93, 0.40)
    del incumbent["renders"]
    candidate = copy.deepcopy(_report(0.45, (0.07, 0.04, 0.10), 0.92, 0.91, 0.93, 0.30))
    checks = _by_measure(floor_checks(candidate, incumbent))
    assert checks["not below the shipped model: renders key MIREX, clean"].holds is None
    assert floors_hold(list(checks.values()))


def test_a_candidate_evaluated_in_parts_is_merged_and_checked_from_the_command_line(tmp_path, capsys):
    import json

    incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.85, 0.90, 0.93, 0.40)
    candidate = _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.95, 0.93, 0.30)
    del candidate["renders"]["key"]["essentia"]  # evaluated with --no-essentia: the incumbent's figure is used
    keys = {"model": "default", "renders": candidate["renders"]}
    tracks = {"model": "default", "soundtracks": candidate["soundtracks"]}
    paths = []
    for name, part in (("keys", keys), ("tracks", tracks), ("old", incumbent)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(part))
    assert main([str(paths[0]), str(paths[1]), "--incumbent", str(paths[2])]) == 0
    table = capsys.readouterr().out
    assert "| target | renders key MIREX >= Essentia, clean | 0.950 | 0.930 |  | yes |" in table
    assert main([str(paths[0]), str(paths[0]), "--incumbent", str(paths[2])]) == 1  # one section twice: refused
    assert merged_reports([keys, tracks])["soundtracks"] is tracks["soundtracks"]


def _with_excerpt_hits(report: dict, hits: list[bool], ids: list[str] | None = None) -> dict:
    report = copy.deepcopy(report)
    entry = report["soundtracks"]["similarity"]["model"]["excerpt_96kbps"]
    entry["top1"] = sum(hits) / len(hits)
    entry["per_item"] = {"ids": ids or [f"track{i}" for i in range(len(hits))], "values": [float(h) for h in hits]}
    return report


def test_not_below_the_shipped_model_is_judged_item_by_item_where_both_reports_have_the_items():
    incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.92, 0.90, 0.93, 0.40)
    base = _report(0.45, (0.07, 0.04, 0.10), 0.92, 0.91, 0.93, 0.30)
    shipped_hits = [True] * 114 + [False] * 22  # 83.8 % of 136
    incumbent = _with_excerpt_hits(incumbent, shipped_hits)
    measure = "not below the shipped model: excerpt_96kbps top-1"

    # Four excerpts of 136 lost and one gained: below on the mean, but the paired interval reaches 0.
    noisy = shipped_hits.copy()
    for lost in (0, 1, 2, 3):
        noisy[lost] = False
    noisy[120] = True
    check = _by_measure(floor_checks(_with_excerpt_hits(base, noisy), incumbent))[measure]
    assert check.value < check.reference and check.interval[0] < 0 <= check.interval[1] and check.holds
    assert "[-0.059, +0.007]" in "\n".join(checks_markdown([check], "v1.3"))

    # Thirty lost: the whole interval lies below 0.
    worse = [False] * 30 + shipped_hits[30:]
    check = _by_measure(floor_checks(_with_excerpt_hits(base, worse), incumbent))[measure]
    assert check.interval[1] < 0 and check.holds is False

    # The same outcomes: a zero-width interval at 0 holds.
    check = _by_measure(floor_checks(_with_excerpt_hits(base, shipped_hits), incumbent))[measure]
    assert check.interval == [0.0, 0.0] and check.holds

    # Other items (another data set) or an older report without them: mean against mean.
    other_items = _with_excerpt_hits(base, noisy, ids=[f"other{i}" for i in range(136)])
    check = _by_measure(floor_checks(other_items, incumbent))[measure]
    assert check.interval is None and check.holds is False


def test_transposition_is_held_at_the_lower_of_090_and_the_shipped_models_own_rate():
    floor = "transposition consistency at today's level"
    candidate = _report(0.45, (0.07, 0.04, 0.10), 0.86, 0.91, 0.93, 0.30)
    low_incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.846, 0.90, 0.93, 0.40)  # v1.3 on the 272 pairs
    measures = _by_measure(floor_checks(candidate, low_incumbent))
    assert measures[floor].reference == 0.846 and measures[floor].holds
    assert measures["transposition consistency >= 0.9"].kind == "target"
    assert measures["transposition consistency >= 0.9"].holds is False  # written down, not required
    high_incumbent = _report(0.40, (0.06, 0.03, 0.09), 0.95, 0.90, 0.93, 0.40)
    measures = _by_measure(floor_checks(candidate, high_incumbent))
    assert measures[floor].reference == 0.90 and measures[floor].holds is False
