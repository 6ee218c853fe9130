"""The arXiv snapshot import: real Kaggle-shaped lines become searchable papers."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Text, func, insert, select

from storage.bulk_sqlite import Writer
from storage.catalog.refs import parse_reference
from storage.catalog.store import find_paper, search_papers
from storage.db import Database
from storage.importer import import_snapshot
from storage.models import Paper
from storage.snapshot import ROW, clean, paper_row

# Shaped as the lines of arxiv-metadata-oai-snapshot.json are (the first is 0704.0001 verbatim,
# its abstract shortened).
DIPHOTON = (
    '{"id":"0704.0001","submitter":"Pavel Nadolsky","authors":"C. Bal\\\\\'azs, E. L. Berger, '
    'P. M. Nadolsky, C.-P. Yuan","title":"Calculation of prompt diphoton production cross '
    'sections at Tevatron and\\n  LHC energies","comments":"37 pages, 15 figures; published '
    'version","journal-ref":"Phys.Rev.D76:013009,2007","doi":"10.1103/PhysRevD.76.013009",'
    '"report-no":"ANL-HEP-PR-07-12","categories":"hep-ph","license":null,"abstract":"  A fully '
    "differential calculation in perturbative quantum chromodynamics is\\npresented for the "
    'production of massive photon pairs at hadron colliders.\\n","versions":[{"version":"v1",'
    '"created":"Mon, 2 Apr 2007 19:18:42 GMT"},{"version":"v2","created":"Tue, 24 Jul 2007 '
    '20:10:27 GMT"}],"update_date":"2008-11-13","authors_parsed":[["Balázs","C.",""],'
    '["Berger","E. L.",""],["Nadolsky","P. M.",""],["Yuan","C. -P.",""]]}'
)
RESNET = json.dumps(
    {
        "id": "1512.03385",
        "submitter": "Kaiming He",
        "authors": "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
        "title": "Deep Residual Learning for Image Recognition",
        "comments": "Tech report",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.CV",
        "license": None,
        "abstract": "  Deeper neural networks are more difficult to train.\n",
        "versions": [{"version": "v1", "created": "Thu, 10 Dec 2015 19:51:55 GMT"}],
        "update_date": "2015-12-10",
        "authors_parsed": [
            ["He", "Kaiming", ""],
            ["Zhang", "Xiangyu", ""],
            ["Ren", "Shaoqing", ""],
            ["Sun", "Jian", ""],
        ],
    }
)
OLD_STYLE = json.dumps(
    {
        "id": "hep-th/9901001",
        "submitter": "A. Author",
        "authors": "A. Author and B. Writer",
        "title": "Branes  and   Strings",
        "comments": None,
        "journal-ref": None,
        "doi": "10.1103/PhysRevD.76.013009",  # the same DOI as 0704.0001 (the snapshot has such)
        "report-no": None,
        "categories": "hep-th gr-qc",
        "license": None,
        "abstract": "Short.",
        "versions": [{"version": "v1", "created": "Fri, 1 Jan 1999 00:00:01 GMT"}],
        "update_date": "1999-01-01",
        "authors_parsed": [],
    }
)
MALFORMED = [
    '{"id": "0704.0002", "title": "cut off in the mid',  # truncated JSON
    "[1, 2, 3]",  # JSON, not an object
    json.dumps({"id": "0704.0003", "title": "   "}),  # no title
    json.dumps({"id": "9999.99999", "title": "A title"}),  # not an arXiv id
    json.dumps({"id": "0704.00002", "title": "A title"}),  # 5 digits before 2015: not one
    json.dumps({"id": "0704.0004", "title": "Bad date", "versions": [{"created": "someday"}]}),
]


async def _count(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Paper)) or 0)


async def test_snapshot_lines_become_papers(db: Database) -> None:
    seen: list[int] = []
    report = await import_snapshot(
        db, [DIPHOTON + "\n", RESNET, "", OLD_STYLE], batch=2, progress=seen.append
    )
    assert (report.lines, report.inserted, report.malformed) == (3, 3, 0)
    assert report.doi_conflicts == 1
    assert seen == [2, 3]

    async with db.sessions() as session:
        paper = await find_paper(session, parse_reference("arXiv:0704.0001v2"))
        assert paper is not None
        assert paper.title == (
            "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        )
        assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
        assert paper.abstract is not None
        assert paper.abstract.startswith("A fully differential calculation in perturbative")
        assert "\n" not in paper.abstract
        assert paper.categories == ["hep-ph"]
        assert paper.venue == "Phys.Rev.D76:013009,2007"
        assert paper.doi == "10.1103/physrevd.76.013009"
        assert paper.year == 2007
        assert paper.published is not None
        assert paper.published.isoformat() == "2007-04-02T19:18:42+00:00"
        assert paper.url == "https://arxiv.org/abs/0704.0001"
        assert paper.source == "arxiv"

        by_doi = await find_paper(session, parse_reference("doi:10.1103/PhysRevD.76.013009"))
        assert by_doi is not None and by_doi.id == paper.id

        resnet = await find_paper(session, parse_reference("https://arxiv.org/abs/1512.03385"))
        assert resnet is not None
        assert resnet.authors == ["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"]
        assert resnet.venue == "arXiv" and resnet.doi is None

        branes = await find_paper(session, parse_reference("hep-th/9901001v1"))
        assert branes is not None
        assert branes.title == "Branes and Strings"
        assert branes.authors == ["A. Author", "B. Writer"]  # from the authors string
        assert branes.categories == ["hep-th", "gr-qc"]
        assert branes.doi is None  # 0704.0001 holds that DOI

        found = await search_papers(session, "diphoton production")
        assert [p.arxiv_id for p in found] == ["0704.0001"]
        assert [p.arxiv_id for p in await search_papers(session, "residual learn")] == [
            "1512.03385"
        ]
        assert [p.arxiv_id for p in await search_papers(session, "Berger")] == ["0704.0001"]


async def test_malformed_lines_are_counted_and_skipped(db: Database) -> None:
    report = await import_snapshot(db, [DIPHOTON, *MALFORMED, RESNET, b"\xff\xfe not utf-8\n"])
    assert report.inserted == 2
    assert report.malformed == len(MALFORMED) + 1
    assert report.errors[0] == "line 2: JSONDecodeError"
    assert "line 5: invalid arXiv id '9999.99999'" in report.errors
    assert "line 6: invalid arXiv id '0704.00002'" in report.errors
    assert "line 7: unreadable date 'someday'" in report.errors
    assert await _count(db) == 2


async def test_existing_papers_are_kept(db: Database) -> None:
    await import_snapshot(db, [RESNET])
    retitled = json.loads(RESNET) | {"title": "Something else entirely"}
    report = await import_snapshot(db, [json.dumps(retitled), RESNET, DIPHOTON])
    assert (report.inserted, report.existing) == (1, 2)
    async with db.sessions() as session:
        [paper] = await search_papers(session, "deep residual")
        assert paper.title == "Deep Residual Learning for Image Recognition"
        assert await search_papers(session, "something else entirely") == []
    assert await _count(db) == 2


async def test_gzip_file_across_batches_in_worker_processes(db: Database, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            json.loads(RESNET)
            | {"id": f"1601.{n:05d}", "title": f"Paper number {n} on sparse kernels"}
        )
        for n in range(1, 251)
    ]
    path = tmp_path / "snapshot.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join([*lines, "not json"]) + "\n")
    report = await import_snapshot(db, path, batch=100, workers=1)
    assert (report.lines, report.inserted, report.malformed) == (251, 250, 1)
    assert report.errors == ["line 251: JSONDecodeError"]
    assert await _count(db) == 250
    async with db.sessions() as session:
        [paper] = await search_papers(session, "number 137 sparse")
        assert paper.arxiv_id == "1601.00137"
        assert len(await search_papers(session, "sparse kernels", limit=300)) == 250


async def test_plain_file_is_read_in_ranges_by_worker_processes(
    db: Database, tmp_path: Path
) -> None:
    papers = [
        json.dumps(json.loads(RESNET) | {"id": f"1602.{n:05d}", "title": f"Sparse kernels {n}"})
        for n in range(1, 301)
    ]
    lines = [*papers[:100], "", "not json", *papers[100:200], "{}", "   ", *papers[200:]]
    path = tmp_path / "snapshot.json"
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline after the last line
    report = await import_snapshot(db, path, batch=40, workers=2)
    assert (report.lines, report.inserted, report.malformed) == (302, 300, 2)
    assert report.errors == ["line 102: JSONDecodeError", "line 203: no id"]
    assert await _count(db) == 300

    again = await import_snapshot(db, path, batch=40, workers=2)
    assert (again.inserted, again.existing, again.malformed) == (0, 300, 2)
    async with db.sessions() as session:
        [paper] = await search_papers(session, "sparse kernels 300")
        assert paper.arxiv_id == "1602.00300"


TRICKY = [
    DIPHOTON,
    json.dumps(json.loads(OLD_STYLE) | {"doi": None}),
    json.dumps(
        {
            "id": "2101.00001",
            "authors": 'Zoë \\"Q\\" Ünal and 山田 太郎',
            "title": "Tabs\tand\u00a0spaces\u2028everywhere",
            "abstract": '  Line one\n  line two  \\ with "quotes" and emoji \U0001f600\n',
            "journal-ref": "J. Something " + "x" * 300,
            "doi": " 10.1000/ABC  10.1000/second ",
            "categories": "cs.LG  stat.ML",
            "versions": [{"created": "Sat, 30 Jan 2021 23:59:59 +0200"}],
            "authors_parsed": [["Ünal", 'Zoë "Q"', ""], ["山田", "太郎", "Jr."], ["Solo"]],
        },
        ensure_ascii=False,
    ),
]


async def test_stored_values_are_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """The import's own SQLite values equal what a Core insert of the same papers stores."""
    imported, reference = (Database(f"sqlite+aiosqlite:///{tmp_path / n}.db") for n in "ab")
    columns = ", ".join(ROW)
    try:
        for database in (imported, reference):
            await database.upgrade()
        report = await import_snapshot(imported, TRICKY, workers=0)
        assert report.inserted == len(TRICKY)
        moment = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
        async with reference.engine.begin() as conn:
            await conn.execute(
                insert(Paper),
                [
                    dict(zip(ROW, paper_row(json.loads(line)), strict=True))
                    | {"fetched_at": moment, "created_at": moment}
                    for line in TRICKY
                ],
            )
        stored = []
        for database in (imported, reference):
            async with database.engine.connect() as conn:
                result = await conn.exec_driver_sql(
                    f"SELECT {columns}, typeof(year), fetched_at, created_at "
                    "FROM papers ORDER BY arxiv_id"
                )
                stored.append([tuple(row) for row in result])
        assert [row[:-2] for row in stored[0]] == [row[:-2] for row in stored[1]]
        assert stored[1][0][-2:] == ("2026-01-02 03:04:05.678000",) * 2
        stamp = stored[0][0][-1]
        assert stored[0][0][-2] == stamp and len(stamp) == len("2026-01-02 03:04:05.678000")
        async with imported.sessions() as session:
            [paper] = await search_papers(session, "tabs spaces everywhere")
            assert paper.title == "Tabs and spaces everywhere"
            assert paper.authors == ['Zoë "Q" Ünal', "太郎 山田 Jr.", "Solo"]
            assert paper.abstract == 'Line one line two \\ with "quotes" and emoji \U0001f600'
            assert paper.published is not None
            assert paper.published.isoformat() == "2021-01-30T21:59:59+00:00"
            assert paper.doi == "10.1000/abc" and paper.categories == ["cs.LG", "stat.ML"]
    finally:
        for database in (imported, reference):
            await database.dispose()


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_clean_makes_each_run_of_whitespace_one_space(text: str) -> None:
    assert clean(text) == " ".join(text.split())


class Interrupted(Exception):
    """Raised by a progress callback to stop an import half-way."""


async def test_an_interrupted_import_keeps_whole_batches_and_resumes(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(
        "".join(
            json.dumps(json.loads(RESNET) | {"id": f"1603.{n:05d}", "title": f"Graph walks {n}"})
            + "\n"
            for n in range(1, 301)
        ),
        encoding="utf-8",
    )
    done: list[int] = []

    def stop_after_first_batch(lines: int) -> None:
        done.append(lines)
        raise Interrupted

    with pytest.raises(Interrupted):
        await import_snapshot(db, path, batch=40, workers=2, progress=stop_after_first_batch)
    [first] = done
    assert 0 < first < 300
    assert await _count(db) == first

    report = await import_snapshot(db, path, batch=40, workers=2)
    assert (report.inserted, report.existing) == (300 - first, first)
    async with db.sessions() as session:
        assert len(await search_papers(session, "graph walks", limit=400)) == 300


SCHMIDHUBER = json.dumps(
    json.loads(RESNET)
    | {
        "id": "1404.7828",
        "authors": "Jürgen Schmidhuber",
        "title": "Deep Learning in Neural Networks: An Overview",
        "authors_parsed": [["Schmidhuber", "Jürgen", ""]],
    },
    ensure_ascii=False,
)


@pytest.mark.parametrize("workers", [0, 2])
async def test_non_ascii_authors_are_stored_as_text_and_found(db: Database, workers: int) -> None:
    """An author such as Jürgen is stored as written, not escaped, so searching finds him."""
    papers = [SCHMIDHUBER, *(RESNET.replace("1512.03385", f"1512.{n:05d}") for n in range(3))]
    report = await import_snapshot(db, papers, batch=2, workers=workers)
    assert report.inserted == 4
    async with db.engine.connect() as conn:
        stored = await conn.scalar(
            select(func.cast(Paper.authors, Text)).where(Paper.arxiv_id == "1404.7828")
        )
    assert stored is not None and "Jürgen" in stored and "\\u" not in stored
    async with db.sessions() as session:
        for words in ("Schmidhuber Jürgen", "jürgen"):
            found = await search_papers(session, words)
            assert [p.arxiv_id for p in found] == ["1404.7828"], words
            assert found[0].authors == ["Jürgen Schmidhuber"]


def _graph_walks(path: Path, papers: int) -> Path:
    path.write_text(
        "".join(
            json.dumps(json.loads(RESNET) | {"id": f"1604.{n:05d}", "title": f"Graph walks {n}"})
            + "\n"
            for n in range(1, papers + 1)
        ),
        encoding="utf-8",
    )
    return path


async def test_a_failing_batch_stops_the_import_and_keeps_the_batches_before(
    tmp_path: Path,
) -> None:
    """A batch whose transaction fails is rolled back whole, FTS trigger included."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fail.db'}"
    db = Database(url)
    try:
        await db.upgrade()
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON papers WHEN new.title = 'Graph walks 130' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        path = _graph_walks(tmp_path / "snapshot.json", 300)
        with pytest.raises(sqlite3.IntegrityError, match="refused"):
            await import_snapshot(db, path, batch=40, workers=2)
        async with db.sessions() as session:
            stored = set(await session.scalars(select(Paper.arxiv_id)))
        kept = len(stored)
        # Whole batches, in order, all before the failing one (whose earlier rows went too).
        assert 0 < kept < 130
        assert stored == {f"1604.{n:05d}" for n in range(1, kept + 1)}
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER refuse")
        report = await import_snapshot(db, path, batch=40, workers=2)
        assert (report.inserted, report.existing) == (300 - kept, kept)
        async with db.sessions() as session:
            assert len(await search_papers(session, "graph walks", limit=400)) == 300
            [paper] = await search_papers(session, "graph walks 130")
            assert paper.arxiv_id == "1604.00130"
    finally:
        await db.dispose()


async def test_the_import_is_in_the_database_file_when_it_returns(tmp_path: Path) -> None:
    """The WAL is checkpointed: the database file alone holds every imported paper."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        await db.upgrade()
        path = _graph_walks(tmp_path / "snapshot.json", 1000)
        report = await import_snapshot(db, path, batch=40, workers=2)
        assert report.inserted == 1000
        shutil.copyfile(tmp_path / "full.db", tmp_path / "copy.db")  # not its -wal file
    finally:
        await db.dispose()
    with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        assert copy.execute("SELECT count(*) FROM papers").fetchone() == (1000,)
        matches = "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'graph walks'"
        assert copy.execute(matches).fetchone() == (1000,)


async def test_an_sqlite_database_in_memory_is_refused() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        with pytest.raises(RuntimeError, match="database file"):
            await import_snapshot(db, [RESNET])
    finally:
        await db.dispose()


@pytest.mark.parametrize("workers", [0, 2])
async def test_a_stored_paper_or_doi_part_way_through_a_batch(
    db: Database, tmp_path: Path, workers: int
) -> None:
    """Batches after fresh ones meet a stored paper, then a stored DOI, part-way: all is kept."""

    def paper(n: int, doi: str | None) -> str:
        return json.dumps(
            json.loads(RESNET) | {"id": f"1605.{n:05d}", "title": f"Graph walks {n}", "doi": doi}
        )

    held = json.dumps(json.loads(RESNET) | {"doi": "10.1/held"})
    await import_snapshot(db, [paper(65, None), held], workers=0)
    path = tmp_path / "snapshot.json"
    path.write_text(
        "".join(paper(n, "10.1/HELD" if n == 180 else f"10.2/{n}") + "\n" for n in range(1, 201)),
        encoding="utf-8",
    )
    report = await import_snapshot(db, path, batch=40, workers=workers)
    assert (report.inserted, report.existing, report.doi_conflicts) == (199, 1, 1)

    async with db.engine.connect() as conn:
        result = await conn.execute(
            select(Paper.arxiv_id, Paper.doi)
            .where(Paper.arxiv_id.like("1605.%"))
            .order_by(Paper.id)
        )
        stored = [tuple(row) for row in result]
    order = [65, *range(1, 65), *range(66, 201)]  # ids in input order, the stored one first
    assert stored == [(f"1605.{n:05d}", None if n in (65, 180) else f"10.2/{n}") for n in order]
    async with db.sessions() as session:
        assert len(await search_papers(session, "graph walks", limit=400)) == 200
        [paper_180] = await search_papers(session, "graph walks 180")
        assert paper_180.arxiv_id == "1605.00180"
        [holder] = await search_papers(session, "deep residual")
        assert holder.doi == "10.1/held"
    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')"
            )


async def test_batches_are_looked_up_only_after_one_met_stored_papers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh batch is stored without lookups; after one meets a stored paper, until one
    finds none stored again, they are looked up (the writer runs here with workers=0)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'lookups.db'}")
    looked_up: list[str] = []
    known = Writer._known

    def spy(self: Writer, column: str, values: list[str]) -> set[str]:
        looked_up.extend(values[:1] if column == "arxiv_id" else [])
        return known(self, column, values)

    monkeypatch.setattr(Writer, "_known", spy)
    try:
        await db.upgrade()
        await import_snapshot(db, [RESNET.replace("1512.03385", "1606.00025")], workers=0)
        assert looked_up == []
        lines = [
            RESNET.replace("1512.03385", f"1606.{n:05d}").replace(
                '"doi": null', f'"doi": "10.3/{n}"'
            )
            for n in range(1, 101)
        ]
        report = await import_snapshot(db, lines, batch=20, workers=0)
        assert (report.inserted, report.existing) == (99, 1)
        # Batch 2 (21-40) met 25, and was looked up; so was batch 3, which found none.
        assert looked_up == ["1606.00021", "1606.00041"]
    finally:
        await db.dispose()
