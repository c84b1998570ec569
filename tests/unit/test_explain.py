"""`csmetrics explain`'s decompositions on hand-computed sums (docs/derived.md)."""

from __future__ import annotations

import pytest

from csmetrics.explain import NOT_IN_A_GROUP, Measure, SessionPull, session_pulls, shift_share, split_change, weightiest


def test_a_ratios_change_splits_into_its_numerator_and_denominator_effects():
    # 8 / 10 = 0.8 -> 9 / 15 = 0.6: one more replied message, five more counted ones.
    split = split_change(Measure(8, 10), Measure(9, 15))
    assert split.change == pytest.approx(-0.2)
    # Each effect is the mean of taking it first and taking it second.
    assert split.numerator_effect == pytest.approx(0.5 * 1 * (1 / 10 + 1 / 15))  # +0.0833
    assert split.denominator_effect == pytest.approx(0.5 * 17 * (1 / 15 - 1 / 10))  # -0.2833
    assert split.numerator_effect + split.denominator_effect == pytest.approx(split.change, abs=1e-12)


def test_a_side_without_a_value_has_no_change_to_split():
    for before, after in ((Measure(0, 0), Measure(3, 4)), (Measure(3, 4), Measure(0, 0)), (None, Measure(3, 4))):
        split = split_change(before, after)
        assert (split.change, split.numerator_effect, split.denominator_effect) == (None, None, None)
    assert split_change(Measure(0, 0), Measure(3, 4)).after == 0.75


def test_a_counts_change_is_all_numerator():
    split = split_change(Measure(5, None), Measure(8, None))
    assert (split.change, split.numerator_effect, split.denominator_effect) == (3, 3, None)


def test_shift_share_with_a_group_that_appears_and_one_that_disappears():
    # Before: A 8/10, B 2/10 (0.5). After: A 9/10, C 1/5 (0.6667).
    before = {"A": Measure(8, 10), "B": Measure(2, 10)}
    after = {"A": Measure(9, 10), "C": Measure(1, 5)}
    groups = {c.group: c for c in shift_share(before, after, Measure(10, 20), Measure(10, 15))}
    a, b, c = groups["A"], groups["B"], groups["C"]
    # A: share 0.5 -> 2/3 at its old rate 0.8, rate 0.8 -> 0.9 at its new share.
    assert (a.share_before, a.share_after, a.rate_before, a.rate_after) == (0.5, pytest.approx(2 / 3), 0.8, 0.9)
    assert a.mix_effect == pytest.approx((2 / 3 - 0.5) * 0.8) and a.rate_effect == pytest.approx(0.1 * 2 / 3)
    assert a.contribution == pytest.approx(0.2)
    # B disappears and C appears: by their mix alone.
    assert (b.mix_effect, b.rate_effect, b.contribution) == (pytest.approx(-0.1), 0.0, pytest.approx(-0.1))
    assert (c.rate_before, c.mix_effect, c.rate_effect, c.contribution) == (None, pytest.approx(1 / 15), 0.0, pytest.approx(1 / 15))
    assert sum(x.contribution for x in groups.values()) == pytest.approx(10 / 15 - 0.5, abs=1e-12)
    assert all(x.mix_effect + x.rate_effect == pytest.approx(x.contribution) for x in groups.values())
    # Largest first.
    assert list(groups) == ["A", "B", "C"]


def test_what_no_group_holds_keeps_the_contributions_summing_to_the_change():
    # The groups hold 9/14 of the later total 10/15 (a buyer in no scene): the rest is a group.
    groups = shift_share({"A": Measure(5, 10)}, {"A": Measure(9, 14)}, Measure(5, 10), Measure(10, 15))
    rest = next(c for c in groups if c.group == NOT_IN_A_GROUP)
    assert (rest.share_after, rest.rate_after, rest.contribution) == (pytest.approx(1 / 15), 1.0, pytest.approx(1 / 15))
    assert sum(c.contribution for c in groups) == pytest.approx(10 / 15 - 0.5, abs=1e-12)


def test_a_denominator_of_zero_on_one_side_of_a_group():
    # A had no counted message the day before; the totals still have denominators.
    groups = {c.group: c for c in shift_share({"A": Measure(0, 0), "B": Measure(4, 5)}, {"A": Measure(1, 1), "B": Measure(4, 5)},
                                              Measure(4, 5), Measure(5, 6))}
    assert groups["A"].rate_before is None and groups["A"].contribution == pytest.approx(1 / 6)
    assert sum(c.contribution for c in groups.values()) == pytest.approx(5 / 6 - 4 / 5, abs=1e-12)


def test_counts_split_by_group_are_each_groups_own_change():
    groups = {c.group: c.contribution for c in shift_share({"A": Measure(3, None)}, {"A": Measure(1, None), "B": Measure(4, None)},
                                                          Measure(3, None), Measure(5, None))}
    assert groups == {"A": -2, "B": 4}


def test_the_sessions_pulls_sum_to_the_change_and_the_weightiest_lead():
    # The day before: 0.5. The day: s1 9/10, s2 1/5, s3 0/0 (nothing counted): 10/15.
    pulls = session_pulls([("s1", "ag1", "presale", 9, 10), ("s2", "ag2", "aftersale", 1, 5), ("s3", None, None, 0, 0)], 0.5, Measure(10, 15))
    assert [p.pull for p in pulls] == [pytest.approx(4 / 15), pytest.approx(-0.1), 0.0]
    assert sum(p.pull for p in pulls) == pytest.approx(10 / 15 - 0.5, abs=1e-12)
    # The value rose: the sessions that pushed it up, most first; a fall shows the others.
    assert [p.session_id for p in weightiest(pulls, +0.1667)] == ["s1"]
    assert [p.session_id for p in weightiest(pulls, -0.1)] == ["s2"]
    assert weightiest([SessionPull(str(i), None, None, 1, None, 1.0) for i in range(20)], 1.0, limit=3) == [
        SessionPull(str(i), None, None, 1, None, 1.0) for i in (0, 1, 10)
    ]
