"""The sweep table's cells: a standard error keeps a significant digit, a true zero stays 0."""
import pytest

from gankit.sweep_table import fmt, pm, value_cell


@pytest.mark.parametrize("mu, se, digits, cell", [
    (-43.633, 0.034, 1, "-43.63 ± 0.03"),      # was -43.6 ± 0.0
    (1.893, 0.0026, 2, "1.893 ± 0.003"),
    (3.0, 0.0096, 1, "3.00 ± 0.01"),           # the digit rounding makes, not 0.010
    (3.0, 0.25, 1, "3.0 ± 0.2"),               # readable at the mean's decimals: as it was
    (8.0, 0.0, 2, "8.00 ± 0.00"),              # a true zero stays 0
    (5.0, float("nan"), 2, "5.00"),            # one run: no standard error
])
def test_a_standard_error_keeps_a_significant_digit(mu, se, digits, cell):
    assert pm(mu, se, digits) == cell


def test_the_table_cell_and_a_mean_of_equal_floats():
    assert value_cell(-43.633, 0.034) == "-43.63 ± 0.03"
    # the rounding noise of the mean of equal values (~1e-17) is no standard error to show
    assert fmt([0.1, 0.1, 0.1], 3) == "0.100 ± 0.000"
