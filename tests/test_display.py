"""Reader tables (costmodel.display): the width a column needs and the folding of a table wider than the
book's text column, against widths counted by hand."""

import pandas as pd

from costmodel import display


def test_min_width_is_the_longest_unbreakable_word_plus_padding():
    # "memory/GPU (GB)" breaks at the space: "memory/GPU" is 10 characters, + 2 of padding = 12;
    # "10b-stated-output" breaks after each hyphen: "stated-" is 7, + 2 = 9; a number does not break: "893,000" 7 + 2
    assert display.min_width_chars("memory/GPU (GB)", ["44.6"]) == 12
    assert display.min_width_chars("set", ["10b-stated-output"]) == 9
    assert display.min_width_chars("in", ["893,000"]) == 9


def wide_frame() -> pd.DataFrame:
    # a text column "name" (4 characters + 2 = 6) and nine numeric columns of "1,234,567" (9 + 2 = 11 each):
    # 6 + 9 x 11 = 105 characters, more than the 82 of the column
    return pd.DataFrame({"name": ["a", "b"]} | {f"x{i}": [1234567, 7654321] for i in range(1, 10)})


def test_a_wide_table_folds_into_parts_that_repeat_its_row_labels():
    # the row label takes 6, leaving 76: six numeric columns (66) in the first part, the last three in the second
    frame = wide_frame()
    shown, numeric = display.table(frame), [False] + [True] * 9
    assert display.column_parts(shown, numeric) == [[0, 1, 2, 3, 4, 5, 6], [0, 7, 8, 9]]
    assert display.column_parts(shown, numeric, budget=200) == [list(range(10))]  # fits: one part
    html = display.html_table(frame)
    assert html.count("<table") == 2 and html.count("<th>name</th>") == 2 and html.count("<td>b</td>") == 2
    assert html.count("<tr>") == 2 * 3 and html.count(">7,654,321</td>") == 9  # every cell once


def test_a_narrow_table_is_one_table():
    frame = wide_frame()[["name", "x1", "x2"]]
    assert display.html_table(frame).count("<table") == 1


def test_a_long_wide_table_is_not_folded():
    # 21 rows, one more than FOLD_MAX_ROWS: a second part would start a screen below the first, so it stays one
    # table (in its sideways-scrolling wrapper)
    frame = pd.concat([wide_frame()] * 11, ignore_index=True).head(display.FOLD_MAX_ROWS + 1)
    assert len(frame) == 21 and display.html_table(frame).count("<table") == 1
