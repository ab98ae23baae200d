"""docs/composition.md is generated from the matrix that drives test_pairs.py: it must be current."""

import composition_matrix as M


def test_composition_doc_is_generated_from_the_matrix():
    current = M.DOC.read_text(encoding="utf-8")
    assert current == M.render_doc(), ("docs/composition.md is out of date: run "
                                       "`.venv/bin/python tests/composition/composition_matrix.py --write`")


def test_doc_states_the_counts():
    n = M.counts()
    assert f"**{n['composes']} compose, {n['refused']} are refused**" in M.DOC.read_text(encoding="utf-8")
