"""Memory sizes: '64 MiB' in challenge metadata, 'x.xx MiB' in reports."""

import pytest

from pytest_diffchallenge.units import format_size, parse_size

KIB, MIB, GIB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize("text, size", [
    ("1 B", 1), ("0 B", 0), ("1 KB", 1000), ("1 MB", 1000**2), ("1 GB", 1000**3),
    ("1 KiB", KIB), ("64 MiB", 64 * MIB), ("2 GiB", 2 * GIB), ("1500 MiB", 1500 * MIB),
    ("1.5 GiB", 3 * GIB // 2), ("0.5 KiB", 512), (".5 MiB", MIB // 2), ("1.5 KB", 1500), ("2.5 MB", 2_500_000),
])
def test_decimal_and_binary_units(text, size):
    assert parse_size(text) == size
    assert isinstance(parse_size(text), int)


@pytest.mark.parametrize("text, size", [("2.01 KB", 2010), ("4.02 KB", 4020), ("8.03 KB", 8030),
                                        ("1.1 MB", 1_100_000), ("0.3 KiB", 307)])
def test_a_decimal_size_is_the_exact_number_of_bytes_it_writes(text, size):
    # '2.01 KB' is 2010 bytes; float arithmetic truncated by int() gives 2009 (2.01 * 1000 = 2009.9999999999998)
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["64 mib", "64 MIB", "64 Mib", "64 mIb", "64 MiB"])
def test_units_ignore_case(text):
    assert parse_size(text) == 64 * MIB


@pytest.mark.parametrize("text", ["64MiB", "64 MiB", "  64 MiB  ", "64\tMiB", "\n64MiB\n", "64   MiB"])
def test_spaces_around_and_between_are_allowed(text):
    assert parse_size(text) == 64 * MIB


@pytest.mark.parametrize("text, size", [("4096", 4096), ("  12 ", 12), ("0", 0), ("7 b", 7)])
def test_a_number_without_a_unit_is_bytes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("value", [0, 1, 6 * MIB, 10**15])
def test_ints_are_bytes(value):
    assert parse_size(value) == value


@pytest.mark.parametrize("value", [True, False])
def test_bools_are_refused(value):
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(value)


@pytest.mark.parametrize("text", [
    "", "   ", "MiB", "abc", "64 MiBs", "64 M", "64 mb extra", "1 XB", "-1 MiB", "+1 MiB",
    "1e3 MiB", "1,5 MiB", "1.2.3 MiB", "1. MiB", "64 MiB MiB", "sixty-four MiB", "0x40 MiB", "64 Mi B", None,
    "1_000 B", "\u0661 MiB",  # an Arabic-Indic digit is a digit to str.isdigit, not to a size
], ids=repr)
def test_garbage_is_refused_with_a_value_error(text):
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(text)


def test_the_message_names_the_text_and_shows_an_example():
    with pytest.raises(ValueError) as caught:
        parse_size("lots")
    assert "'lots'" in str(caught.value) and "64 MiB" in str(caught.value)


@pytest.mark.parametrize("text", ["9" * 400, "9" * 400 + " GiB", "1" + "0" * 320 + " B"], ids=["400-digits",
                                                                                              "400-digits-GiB",
                                                                                              "1e320-B"])
def test_an_absurdly_long_number_is_refused_with_a_value_error(text):
    # float('9' * 400) is inf, and int(inf) raises OverflowError, which load_metadata does not turn into a
    # ChallengeFormatError: the metadata loader would crash instead of naming the file and the field.
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("num_bytes, text", [(0, "0.00 MiB"), (MIB, "1.00 MiB"), (1.5 * MIB, "1.50 MiB"),
                                             (64 * MIB, "64.00 MiB"), (GIB, "1024.00 MiB"), (1, "0.00 MiB"),
                                             (MIB * 1000 + 5 * KIB, "1000.00 MiB")])
def test_format_size_prints_mebibytes_with_two_decimals(num_bytes, text):
    assert format_size(num_bytes) == text


@pytest.mark.parametrize("text", ["64 MiB", "1500 MiB", "6 MiB", "0.5 MiB"])
def test_format_size_reads_back_what_parse_size_reads(text):
    assert format_size(parse_size(text)) == f"{float(text.split()[0]):.2f} MiB"
