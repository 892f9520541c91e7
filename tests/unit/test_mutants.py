"""Mutants: edits of the reference that must apply exactly once and compile, checked when they are loaded."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from diffchallenge.bank.challenges import all_challenges
from diffchallenge.bank.mutants import Mutant, load_mutants, mutants_file, reference_dir
from diffchallenge.bank.verify import mutant_problems
from pytest_diffchallenge.metadata import ChallengeFormatError, load_challenge
from pytest_diffchallenge.verdict import Reason, Status, TestRecord, Verdict

TOY_METADATA = Path(__file__).resolve().parents[1] / "toy-bank" / "challenges" / "toy-challenge" / "challenge.toml"
SLUG = "tiny"

REFERENCE = '''\
def scaled_sum(a, b, alpha):
    scaled = alpha * b
    return a + scaled


def twice(x):
    return x + x
'''

ONE_EDIT = '''
[[mutant]]
name = "wrong-sign"
mistake = "subtracts the scaled term"
replace = "return a + scaled"
with = "return a - scaled"
'''

EDIT_LIST = '''
[[mutant]]
name = "ignores-alpha-everywhere"
mistake = "drops alpha and doubles instead of adding"
edits = [
    {replace = "scaled = alpha * b", with = "scaled = b"},
    {replace = "return x + x", with = "return 2 * x + 1"},
]
'''


@pytest.fixture
def bank(tmp_path):
    """A bank with one challenge, 'tiny', its reference solution and (once written) its mutants.toml."""
    public = tmp_path / "challenges" / SLUG
    public.mkdir(parents=True)
    metadata = TOY_METADATA.read_text()
    assert metadata.count('slug = "toy-challenge"') == 1
    (public / "challenge.toml").write_text(metadata.replace('slug = "toy-challenge"', f'slug = "{SLUG}"'))
    secret = tmp_path / "solutions" / SLUG
    secret.mkdir(parents=True)
    (secret / "solution.py").write_text(REFERENCE)
    return tmp_path


def challenge_with(bank: Path, mutants_toml: str | None):
    challenge = load_challenge(bank / "challenges" / SLUG)
    if mutants_toml is not None:
        mutants_file(challenge).write_text(mutants_toml)
    return challenge


def refused(bank: Path, mutants_toml: str) -> str:
    with pytest.raises(ChallengeFormatError) as caught:
        load_mutants(challenge_with(bank, mutants_toml))
    message = str(caught.value)
    assert str(bank / "solutions" / SLUG / "mutants.toml") in message, "the message names the file"
    return message


def test_the_fake_bank_is_a_bank(bank):
    challenge = challenge_with(bank, None)
    assert challenge.slug == SLUG
    assert reference_dir(challenge) == bank / "solutions" / SLUG
    assert mutants_file(challenge) == bank / "solutions" / SLUG / "mutants.toml"


def test_no_mutants_file_means_no_mutants(bank):
    assert load_mutants(challenge_with(bank, None)) == []


def test_an_empty_mutants_file_means_no_mutants(bank):
    assert load_mutants(challenge_with(bank, "# nothing yet\n")) == []


def test_a_single_edit_applies(bank):
    [mutant] = load_mutants(challenge_with(bank, ONE_EDIT))
    assert mutant == Mutant("wrong-sign", "subtracts the scaled term", (("return a + scaled", "return a - scaled"),))
    source = mutant.source(REFERENCE, Path("origin"))
    assert source == REFERENCE.replace("return a + scaled", "return a - scaled")
    namespace = {}
    exec(compile(source, "mutant", "exec"), namespace)
    assert namespace["scaled_sum"](1, 2, 3) == -5


def test_an_edit_list_applies_every_edit(bank):
    [mutant] = load_mutants(challenge_with(bank, EDIT_LIST))
    assert mutant.name == "ignores-alpha-everywhere" and len(mutant.edits) == 2
    source = mutant.source(REFERENCE, Path("origin"))
    namespace = {}
    exec(compile(source, "mutant", "exec"), namespace)
    assert namespace["scaled_sum"](1, 2, 3) == 3
    assert namespace["twice"](5) == 11


def test_mutants_load_in_file_order(bank):
    mutants = load_mutants(challenge_with(bank, ONE_EDIT + EDIT_LIST))
    assert [m.name for m in mutants] == ["wrong-sign", "ignores-alpha-everywhere"]


def test_edits_apply_in_order_each_to_the_result_of_the_last(bank):
    chained = '''
[[mutant]]
name = "chained"
mistake = "two edits, the second of the first's text"
edits = [{replace = "return a + scaled", with = "return a + scaled * 7"}, {replace = "scaled * 7", with = "scaled * 8"}]
'''
    [mutant] = load_mutants(challenge_with(bank, chained))
    assert "return a + scaled * 8" in mutant.source(REFERENCE, Path("origin"))


@pytest.mark.parametrize("text, times", [("this text is not in the reference", 0), ("return ", 2), ("x", 3)])
def test_a_replace_that_does_not_occur_exactly_once_is_refused_naming_the_mutant(bank, text, times):
    message = refused(bank, f'''
[[mutant]]
name = "off-target"
mistake = "edits the wrong place"
replace = {json.dumps(text)}
with = "pass"
''')
    assert "mutant 'off-target'" in message
    assert f"occurs {times} times in the reference, not once" in message


def test_a_replace_in_an_edit_list_that_occurs_twice_is_refused(bank):
    message = refused(bank, ONE_EDIT + '''
[[mutant]]
name = "second-edit-ambiguous"
mistake = "its second edit matches twice"
edits = [{replace = "scaled = alpha * b", with = "scaled = b"}, {replace = "return", with = "yield"}]
''')
    assert "mutant 'second-edit-ambiguous'" in message and "occurs 2 times" in message


def test_an_edit_that_removes_the_text_of_a_later_edit_is_refused(bank):
    message = refused(bank, '''
[[mutant]]
name = "self-defeating"
mistake = "its first edit removes what its second replaces"
edits = [{replace = "return a + scaled", with = "return a"}, {replace = "a + scaled", with = "a - scaled"}]
''')
    assert "mutant 'self-defeating'" in message and "occurs 0 times" in message


@pytest.mark.parametrize("new", ["return a +", "return (a", "retur a + scaled", "\x00"],
                         ids=["syntax", "unclosed", "typo", "null-byte"])
def test_a_mutant_that_does_not_compile_is_refused_when_loaded(bank, new):
    message = refused(bank, f'''
[[mutant]]
name = "broken"
mistake = "is not Python"
replace = "return a + scaled"
with = {json.dumps(new)}
''')
    assert "mutant 'broken' does not compile" in message


def test_a_mutant_that_breaks_the_indentation_does_not_compile(bank):
    message = refused(bank, ONE_EDIT + '''
[[mutant]]
name = "dedented"
mistake = "moves the return out of the function"
replace = "    return a + scaled"
with = "return a + scaled"
''')
    assert "mutant 'dedented' does not compile" in message


@pytest.mark.parametrize("entry", ['name = "no-mistake"', 'mistake = "no name"', ""], ids=["no-mistake", "no-name",
                                                                                        "neither"])
def test_a_mutant_without_a_name_or_a_mistake_is_refused(bank, entry):
    message = refused(bank, ONE_EDIT + f'''
[[mutant]]
{entry}
replace = "return x + x"
with = "return x * 3"
''')
    assert "mutant #2: needs 'name' and 'mistake'" in message


@pytest.mark.parametrize("edit", ['replace = "return x + x"', 'with = "return x * 3"', "",
                                  'replace = "return x + x"\nwith = 3', "edits = []",
                                  'edits = [{replace = "return x + x"}]'],
                         ids=["no-with", "no-replace", "no-edit", "with-not-text", "empty-edits", "edit-without-with"])
def test_a_mutant_without_its_edit_is_refused(bank, edit):
    message = refused(bank, f'''
[[mutant]]
name = "editless"
mistake = "says nothing about what to change"
{edit}
''')
    assert "mutant #1 (editless): needs 'replace' and 'with' strings, or 'edits'" in message


@pytest.mark.parametrize("edits", ['edits = ["return x + x"]', 'edits = "return x + x"', "edits = [[1, 2]]"],
                         ids=["list-of-strings", "string", "list-of-lists"])
def test_edits_that_are_not_tables_are_a_format_error_not_a_crash(bank, edits):
    # verify reports a ChallengeFormatError with the file and the mutant; an AttributeError would be a traceback
    message = refused(bank, f'''
[[mutant]]
name = "odd-edits"
mistake = "writes its edits as something other than tables"
{edits}
''')
    assert "odd-edits" in message


def test_duplicate_names_are_refused(bank):
    message = refused(bank, ONE_EDIT + ONE_EDIT.replace("return a - scaled", "return a * scaled"))
    assert "mutant names must be unique" in message


def test_invalid_toml_is_refused(bank):
    assert "not valid TOML" in refused(bank, "[[mutant]\nname = ")


def test_write_puts_the_mutant_in_solution_py_of_the_folder(bank, tmp_path):
    challenge = challenge_with(bank, ONE_EDIT + EDIT_LIST)
    first, second = load_mutants(challenge)
    folder = tmp_path / "out" / "mutants" / first.name
    assert first.write(challenge, folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["solution.py"]
    assert (folder / "solution.py").read_text() == REFERENCE.replace("return a + scaled", "return a - scaled")
    second.write(challenge, folder)  # writing again replaces the file
    assert (folder / "solution.py").read_text() == second.source(REFERENCE, Path("origin"))
    assert (bank / "solutions" / SLUG / "solution.py").read_text() == REFERENCE, "the reference is untouched"


def test_write_refuses_a_mutant_that_no_longer_applies(bank, tmp_path):
    challenge = challenge_with(bank, ONE_EDIT)
    [mutant] = load_mutants(challenge)
    (bank / "solutions" / SLUG / "solution.py").write_text(REFERENCE.replace("return a + scaled", "return scaled + a"))
    with pytest.raises(ChallengeFormatError, match="mutant 'wrong-sign'.*occurs 0 times"):
        mutant.write(challenge, tmp_path / "out")


def test_a_challenge_outside_a_bank_has_no_reference(tmp_path):
    folder = tmp_path / "workspace"
    folder.mkdir()
    (folder / "challenge.toml").write_text(TOY_METADATA.read_text())
    with pytest.raises(ChallengeFormatError, match="not in a bank"):
        load_mutants(load_challenge(folder))


# -- the real bank ---------------------------------------------------------------------------------------------
@pytest.fixture
def real_bank(monkeypatch):
    monkeypatch.delenv("DIFFCHALLENGE_BANK", raising=False)
    challenges = all_challenges()
    assert len(challenges) >= 10, "the kit's own bank"
    return challenges


def test_every_real_challenge_has_at_least_six_mutants_that_apply_and_compile(real_bank):
    short = {}
    for challenge in real_bank:
        mutants = load_mutants(challenge)  # checks that each applies exactly once and compiles
        reference = (reference_dir(challenge) / "solution.py").read_text()
        for mutant in mutants:
            source = mutant.source(reference, mutants_file(challenge))
            compile(source, f"{challenge.slug}/{mutant.name}", "exec")
            assert source != reference, f"{challenge.slug}: mutant {mutant.name!r} changes nothing"
            assert mutant.mistake.strip(), f"{challenge.slug}: mutant {mutant.name!r} says no mistake"
        if len(mutants) < 6:
            short[challenge.slug] = len(mutants)
    assert not short, f"challenges with fewer than 6 mutants: {short}"


def test_real_mutants_are_distinct_programs(real_bank):
    for challenge in real_bank:
        reference = (reference_dir(challenge) / "solution.py").read_text()
        sources = {}
        for mutant in load_mutants(challenge):
            source = mutant.source(reference, mutants_file(challenge))
            assert source not in sources, f"{challenge.slug}: {mutant.name!r} is the same as {sources.get(source)!r}"
            sources[source] = mutant.name


def mutant_verdict(*reasons: Reason | None) -> Verdict:
    tests = [TestRecord(name=f"test_{n}", nodeid=f"t.py::test_{n}", max_score=1, visibility="visible",
                        status=Status.PASSED if reason is None else Status.FAILED, reason=reason)
             for n, reason in enumerate(reasons)]
    return Verdict(challenge=SLUG, title="tiny", tests=tests)


@pytest.mark.parametrize("forbidden", [[], ["torch.add"]])
def test_verify_asks_for_six_mutants_or_more(bank, forbidden):
    toy = challenge_with(bank, None)
    challenge = replace(toy, meta=replace(toy.meta, forbidden=forbidden))
    wrong = [mutant_verdict(Reason.WRONG_OUTPUT)] * 5 + [mutant_verdict(Reason.FORBIDDEN_API)]
    assert mutant_problems(challenge, wrong) == []
    assert mutant_problems(challenge, wrong[1:]) == ["5 mutants: keep at least 6 plausible mistakes"]


def test_verify_asks_for_a_mutant_that_calls_a_forbidden_api_where_there_are_any(bank):
    challenge = challenge_with(bank, None)
    assert challenge.meta.forbidden, "the toy challenge forbids an API"
    wrong = [mutant_verdict(None, Reason.WRONG_OUTPUT)] * 6
    assert mutant_problems(challenge, wrong) == [
        "no mutant calls a forbidden API: add one, so that the guard is seen to tell it"]
    unforbidden = replace(challenge, meta=replace(challenge.meta, forbidden=[]))
    assert mutant_problems(unforbidden, wrong) == []
