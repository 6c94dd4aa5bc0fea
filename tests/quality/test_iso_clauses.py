"""The ISO 9001:2015 clause list shipped as data: complete, in order, with the TCVN titles;
scopes select a clause with its sub-clauses; labels follow the page's language."""
from pathlib import Path

from flask_babel import force_locale

from qms.services import iso_clauses, procedure_files

ROOT = Path(__file__).resolve().parents[2]


def test_clauses_four_to_ten_in_document_order_with_titles():
    clauses = iso_clauses.all_clauses()
    numbers = [c.number for c in clauses]
    assert numbers[0] == "4" and numbers[-1] == "10.3"
    assert [n for n in numbers if "." not in n] == ["4", "5", "6", "7", "8", "9", "10"]
    assert len(numbers) == len(set(numbers))
    # document order: comparing the numbers part by part, never as text ("10" after "9")
    keys = [tuple(int(p) for p in n.split(".")) for n in numbers]
    assert keys == sorted(keys)
    # the third level where the standard has one
    for parent, count in {"7.1": 6, "7.5": 3, "8.2": 4, "8.3": 6, "8.4": 3, "8.5": 6,
                          "9.1": 3, "9.2": 2, "9.3": 3, "10.2": 2}.items():
        subs = [n for n in numbers if n.startswith(parent + ".")]
        assert subs == [f"{parent}.{i}" for i in range(1, count + 1)], parent
    assert not [n for n in numbers if n.count(".") > 2]  # the fourth level is left out
    assert all(c.title_vi and c.title_en for c in clauses)
    # every sub-clause has its parent in the list
    assert all(n.rsplit(".", 1)[0] in numbers for n in numbers if "." in n)


def test_official_titles():
    expected = {
        "4.1": ("Hiểu tổ chức và bối cảnh của tổ chức", "Understanding the organization and its context"),
        "7.1.6": ("Tri thức của tổ chức", "Organizational knowledge"),
        "7.5.3": ("Kiểm soát thông tin dạng văn bản", "Control of documented information"),
        "8.5.1": ("Kiểm soát sản xuất và cung cấp dịch vụ", "Control of production and service provision"),
        "9.1.2": ("Sự thỏa mãn của khách hàng", "Customer satisfaction"),
        "9.2": ("Đánh giá nội bộ", "Internal audit"),
        "10.2": ("Sự không phù hợp và hành động khắc phục", "Nonconformity and corrective action"),
    }
    for number, (vi, en) in expected.items():
        clause = iso_clauses.get(number)
        assert (clause.title_vi, clause.title_en) == (vi, en)
    # sub-clauses the standard leaves without a heading say so
    assert iso_clauses.get("9.2.1").untitled and not iso_clauses.get("9.2").untitled


def test_get_unknown_and_blank():
    assert iso_clauses.get("8.50") is None
    assert iso_clauses.get("") is None and iso_clauses.get(None) is None
    assert iso_clauses.get(" 8.5.1 ").number == "8.5.1"


def test_a_number_selects_itself_and_its_sub_clauses_in_document_order():
    scope = [c.number for c in iso_clauses.in_scope(["9.2", "8.5"])]
    assert scope == ["8.5", "8.5.1", "8.5.2", "8.5.3", "8.5.4", "8.5.5", "8.5.6", "9.2", "9.2.1", "9.2.2"]
    # "1" is not a prefix of "10": no clause 1 in the list, and 10 stays out
    assert iso_clauses.in_scope(["1"]) == []
    assert [c.number for c in iso_clauses.in_scope(["10"])] == ["10", "10.1", "10.2", "10.2.1",
                                                                "10.2.2", "10.3"]
    # overlapping and repeated numbers give each clause once
    assert [c.number for c in iso_clauses.in_scope(["7.5", "7.5.2", "7.5"])] == [
        "7.5", "7.5.1", "7.5.2", "7.5.3"]
    assert iso_clauses.in_scope(["8.50", ""]) == [] and iso_clauses.in_scope([]) == []


def test_label_follows_the_language(app):
    with app.test_request_context("/"):
        assert iso_clauses.label("8.5.1") == "8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ"
        with force_locale("en"):
            assert iso_clauses.label("8.5.1") == "8.5.1 Control of production and service provision"
        assert iso_clauses.label("X.9") == "X.9"  # an old free-text clause is shown as typed
        assert iso_clauses.label("") == ""


def test_choices_for_a_select():
    pairs = iso_clauses.choices(blank="—")
    assert pairs[0] == ("", "—")
    assert [number for number, _ in pairs[1:]] == [c.number for c in iso_clauses.all_clauses()]
    assert dict(pairs)["8.5.1"].strip() == "8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ"


def test_the_clause_file_is_not_read_as_a_procedure():
    """`qms import-procedures` over the whole procedures_iso/ folder skips the clause list."""
    parsed, problems = procedure_files.parse_tree(ROOT / "procedures_iso")
    assert not [p for p in problems if iso_clauses.CLAUSES_FILE in p]
    assert iso_clauses.CLAUSES_FILE not in {item.path.name for item in parsed}
