"""DuckDBAsofOfflineStore against a brute-force oracle of Feast's point-in-time rules.

Every generated case is a tiny feature repo in ``tmp_path``: three feature views (one join key
with a created-timestamp column and a field mapping, two join keys with no TTL, a third with a
short TTL), timestamps on an hour grid so that TTL edges, equal event times and created-time
ties happen often, and entity rows that repeat, miss, and arrive naive, in UTC or in another
zone. The oracle scans every source row for every entity row; the store must agree with it
row by row, on feature values and on the timestamps it picked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from feast import FeatureStore

STORE = "modelworks.features.offline_store.DuckDBAsofOfflineStore"
START = pd.Timestamp("2024-05-01", tz="UTC")
HOUR = pd.Timedelta(hours=1)
SEEDS = range(12)
ZONES = ("UTC", None, "America/New_York")  # entity timestamps: aware UTC, naive, other zone


@dataclass(frozen=True)
class View:
    """One feature view as the oracle reads it (source column names, before field mapping)."""

    name: str
    path: str
    keys: tuple[str, ...]
    timestamp: str
    created: str | None
    ttl: timedelta
    features: dict[str, str]  # source column -> feature name


SPEND = View(
    name="spend_fv",
    path="data/spend.parquet",
    keys=("customer_id",),
    timestamp="ts",
    created="created_at",
    ttl=timedelta(hours=24),
    features={"amount_raw": "amount", "n_orders": "n_orders", "stamped_at": "stamped_at"},
)
PAIR = View(
    name="pair_fv",
    path="data/pair.parquet",
    keys=("customer_id", "merchant_id"),
    timestamp="event_timestamp",
    created=None,
    ttl=timedelta(0),  # no limit
    features={"pair_score": "pair_score", "stamped_at": "pair_stamped_at"},
)
MERCHANT = View(
    name="merchant_fv",
    path="data/merchant.parquet",
    keys=("merchant_id",),
    timestamp="event_timestamp",
    created=None,
    ttl=timedelta(hours=6),
    features={"rating": "rating", "amount": "amount"},
)
VIEWS = (SPEND, PAIR, MERCHANT)
# Feature names unique across views, so they can be asked for without full names.
SHORT_REFS = [
    "spend_fv:amount",
    "spend_fv:n_orders",
    "spend_fv:stamped_at",
    "pair_fv:pair_score",
    "pair_fv:pair_stamped_at",
    "merchant_fv:rating",
]
ALL_REFS = [*SHORT_REFS, "merchant_fv:amount"]


@dataclass(frozen=True)
class Rules:
    """Feast's point-in-time rules; the oracle can be told to break one, to prove they matter."""

    ttl_inclusive: bool = True
    at_or_before: bool = True
    created_breaks_ties: bool = True


FEAST = Rules()


def _definitions() -> list[Any]:
    """Feast objects for ``VIEWS``: entities, sources (with a field mapping) and views."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, UnixTimestamp

    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.INT64)
    spend_source = FileSource(
        name="spend_source",
        path=SPEND.path,
        timestamp_field="ts",
        created_timestamp_column="created_at",
        field_mapping={"amount_raw": "amount"},
    )
    pair_source = FileSource(
        name="pair_source",
        path=PAIR.path,
        timestamp_field="event_timestamp",
        field_mapping={"stamped_at": "pair_stamped_at"},
    )
    merchant_source = FileSource(
        name="merchant_source", path=MERCHANT.path, timestamp_field="event_timestamp"
    )
    views = [
        FeatureView(
            name="spend_fv",
            entities=[customer],
            ttl=SPEND.ttl,
            schema=[
                Field(name="amount", dtype=Float64),
                Field(name="n_orders", dtype=Int64),
                Field(name="stamped_at", dtype=UnixTimestamp),
            ],
            source=spend_source,
        ),
        FeatureView(
            name="pair_fv",
            entities=[customer, merchant],
            ttl=PAIR.ttl,
            schema=[
                Field(name="pair_score", dtype=Float64),
                Field(name="pair_stamped_at", dtype=UnixTimestamp),
            ],
            source=pair_source,
        ),
        FeatureView(
            name="merchant_fv",
            entities=[merchant],
            ttl=MERCHANT.ttl,
            schema=[Field(name="rating", dtype=Float64), Field(name="amount", dtype=Float64)],
            source=merchant_source,
        ),
    ]
    return [customer, merchant, spend_source, pair_source, merchant_source, *views]


def _yaml(offline: str, *, coerce_tz_aware: bool = True) -> str:
    return (
        "project: oracle\nprovider: local\nregistry: data/registry.db\n"
        f"offline_store:\n  type: {offline}\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        f"entity_key_serialization_version: 3\ncoerce_tz_aware: {str(coerce_tz_aware).lower()}\n"
    )


@dataclass
class Repo:
    """One feature repo with this store, its naive-timestamp twin, and Feast's duckdb store."""

    path: Path
    store: FeatureStore
    naive_store: FeatureStore
    feast_duckdb: FeatureStore

    def write(self, sources: dict[str, pd.DataFrame]) -> None:
        """Replace the parquet sources (the registry stays as applied)."""
        for view in VIEWS:
            sources[view.name].to_parquet(self.path / view.path, index=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    from feast import FeatureStore

    path = tmp_path_factory.mktemp("oracle_repo")
    (path / "data").mkdir()
    (path / "feature_store.yaml").write_text(_yaml(STORE))
    (path / "naive.yaml").write_text(_yaml(STORE, coerce_tz_aware=False))
    (path / "feast_duckdb.yaml").write_text(_yaml("duckdb"))
    store = FeatureStore(repo_path=str(path))
    store.apply(_definitions())
    return Repo(
        path=path,
        store=store,
        naive_store=FeatureStore(repo_path=str(path), fs_yaml_file=path / "naive.yaml"),
        feast_duckdb=FeatureStore(repo_path=str(path), fs_yaml_file=path / "feast_duckdb.yaml"),
    )


@pytest.fixture()
def in_repo(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """Feast's duckdb store resolves source paths against the working directory."""
    monkeypatch.chdir(repo.path)
    yield repo


# --- generated cases -------------------------------------------------------------------------


def _hours(rng: np.random.Generator, n: int, low: int, high: int) -> pd.DatetimeIndex:
    return START + pd.to_timedelta(rng.integers(low, high, n), unit="h")


def make_sources(seed: int) -> dict[str, pd.DataFrame]:
    """Source rows on an hour grid over three days, unique on (keys, event time, created time).

    Uniqueness keeps the oracle's answer unique: Feast leaves the choice between rows equal on
    all three open. Equal event times with different created times stay, on purpose.
    """
    rng = np.random.default_rng(seed)
    n = 90
    ts = _hours(rng, n, 0, 72)
    created = ts + pd.to_timedelta(rng.integers(0, 3, n), unit="h")
    spend = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 6, n),
            "ts": ts.tz_localize(None),  # naive: read as UTC
            "created_at": created.where(rng.random(n) > 0.15),  # some unknown
            "amount_raw": np.arange(n) + 0.5,
            "n_orders": rng.integers(0, 50, n),
            "stamped_at": ts,
        }
    )
    # Restatements: the same customer and event time, written again with another created time.
    again = spend.sample(20, random_state=seed)
    again["created_at"] = again["stamped_at"] + pd.to_timedelta(rng.integers(-2, 4, 20), unit="h")
    again["amount_raw"] += 0.25
    spend = (
        pd.concat([spend, again])
        .sample(frac=1, random_state=seed)  # file order must not decide ties
        .drop_duplicates(["customer_id", "ts", "created_at"])
    )
    ts = _hours(rng, n, 0, 72)
    pair = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 6, n),
            "merchant_id": rng.integers(0, 4, n),
            "event_timestamp": ts.tz_convert("Europe/Paris"),
            "pair_score": np.arange(n) + 1000.25,
            "stamped_at": ts,
        }
    ).drop_duplicates(["customer_id", "merchant_id", "event_timestamp"])
    ts = _hours(rng, n, 0, 72)
    merchant = pd.DataFrame(
        {
            "merchant_id": rng.integers(0, 4, n),
            "event_timestamp": ts,
            "rating": np.arange(n) + 2000.75,
            "amount": -np.arange(n) - 0.125,
        }
    ).drop_duplicates(["merchant_id", "event_timestamp"])
    return {"spend_fv": spend, "pair_fv": pair, "merchant_fv": merchant}


def make_entity_rows(seed: int, zone: str | None) -> pd.DataFrame:
    """Entity rows, some for unknown keys, some repeated, in shuffled order, with own columns."""
    rng = np.random.default_rng(10_000 + seed)
    n = 40
    rows = pd.DataFrame(
        {
            "note": [f"r{i}" for i in range(n)],
            "customer_id": rng.integers(0, 7, n),  # 6 is unknown
            # Every fourth case asks about a day in the middle only: the store may skip rows
            # outside it (and its TTL), and must not skip one it needs.
            "event_timestamp": _hours(rng, n, *((30, 54) if seed % 4 == 3 else (-2, 80))),
            "merchant_id": rng.integers(0, 5, n),  # 4 is unknown
            "label": np.where(rng.random(n) > 0.2, rng.random(n), np.nan),
        }
    )
    rows = pd.concat([rows, rows.sample(6, random_state=seed)], ignore_index=True)
    rows = rows.sample(frac=1, random_state=seed).reset_index(drop=True)
    stamps = rows["event_timestamp"]
    rows["event_timestamp"] = (
        stamps.dt.tz_localize(None) if zone is None else stamps.dt.tz_convert(zone)
    )
    rows.index = rows.index * 10 + 7  # a non-default index, which Feast does not keep
    return rows


# --- the oracle ------------------------------------------------------------------------------


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True)


def _nanos(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch (naive values are UTC; NaT is the smallest int64)."""
    return pd.DatetimeIndex(_utc(values)).as_unit("ns").asi8


def _pick(
    keys: list[np.ndarray],
    stamps: np.ndarray,
    created: np.ndarray,
    wanted: tuple,
    at: int,
    ttl: int,
    rules: Rules,
    seen: Counter,
) -> int | None:
    """Position of the source row Feast's rules give one entity row, scanning every row."""
    mask = np.ones(len(stamps), dtype=bool)
    for column, value in zip(keys, wanted, strict=True):
        mask &= column == value
    if not mask.any():
        seen["unknown key"] += 1
    mask &= (stamps <= at) if rules.at_or_before else (stamps < at)
    known = mask.any()
    if ttl:
        mask &= (stamps >= at - ttl) if rules.ttl_inclusive else (stamps > at - ttl)
    candidates = np.flatnonzero(mask)
    if not len(candidates):
        seen["expired by ttl" if known else "nothing before"] += 1
        return None
    newest = stamps[candidates].max()
    latest = candidates[stamps[candidates] == newest]
    if len(latest) > 1:
        seen["equal event times"] += 1
        if rules.created_breaks_ties:
            latest = latest[np.argsort(created[latest], kind="stable")]
    if newest == at:
        seen["stamped at the entity time"] += 1
    if ttl and newest == at - ttl:
        seen["exactly ttl old"] += 1
    return int(latest[-1])


def oracle(
    entity: pd.DataFrame,
    sources: dict[str, pd.DataFrame],
    refs: list[str],
    *,
    full_feature_names: bool = False,
    rules: Rules = FEAST,
    seen: Counter | None = None,
) -> pd.DataFrame:
    """Feast's documented point-in-time join, the slow way: every source row, every entity row."""
    seen = Counter() if seen is None else seen
    expected = entity.reset_index(drop=True)
    times = _nanos(expected["event_timestamp"])
    if expected[["customer_id", "merchant_id", "event_timestamp"]].duplicated().any():
        seen["repeated entity rows"] += 1
    for view in VIEWS:
        wanted = [r.split(":")[1] for r in refs if r.startswith(f"{view.name}:")]
        if not wanted:
            continue
        source = sources[view.name].reset_index(drop=True)
        keys = [source[k].to_numpy() for k in view.keys]
        stamps = _nanos(source[view.timestamp])
        # An unknown created time (NaT) ranks below every known one.
        created = _nanos(source[view.created]) if view.created else np.zeros(len(stamps), int)
        ttl = view.ttl // timedelta(microseconds=1) * 1000
        picks = [
            _pick(keys, stamps, created, tuple(row), at, ttl, rules, seen)
            for row, at in zip(
                expected[list(view.keys)].itertuples(index=False), times, strict=True
            )
        ]
        by_feature = {f: c for c, f in view.features.items()}
        for feature in wanted:
            name = f"{view.name}__{feature}" if full_feature_names else feature
            column = source[by_feature[feature]]
            values = [None if p is None else column.iloc[p] for p in picks]
            expected[name] = pd.Series(values, dtype=object)
    return expected


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, entity: pd.DataFrame) -> None:
    """Same rows in the same order: entity columns exactly, feature values and timestamps."""
    assert len(actual) == len(entity)
    own = list(entity.columns)
    assert list(actual.columns[: len(own)]) == own
    assert sorted(actual.columns[len(own) :]) == sorted(expected.columns[len(own) :])
    pd.testing.assert_frame_equal(actual[own], expected[own])
    features = [c for c in expected.columns if c not in own]
    pd.testing.assert_frame_equal(
        _comparable(actual[features]), _comparable(expected[features]), check_exact=True
    )


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as UTC nanoseconds, numbers as floats, all-missing as NaN, index 0..n-1."""
    out = {}
    for name, column in frame.items():
        present = column.dropna()
        if present.empty:
            out[name] = np.full(len(column), np.nan)
        elif isinstance(present.iloc[0], pd.Timestamp | np.datetime64):
            out[name] = _utc(column).astype("datetime64[ns, UTC]").to_numpy()
        else:
            out[name] = pd.to_numeric(column).astype(float).to_numpy()
    return pd.DataFrame(out)


def feast_view_of(entity: pd.DataFrame) -> pd.DataFrame:
    """The entity rows as Feast hands them to a store: datetime columns made UTC-aware."""
    from feast.utils import make_df_tzaware

    return make_df_tzaware(entity)


# --- tests: generated cases against the oracle -----------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_store_matches_the_oracle_row_by_row(repo: Repo, seed: int) -> None:
    sources = make_sources(seed)
    repo.write(sources)
    entity = make_entity_rows(seed, ZONES[seed % len(ZONES)])
    full = seed % 2 == 1  # full names let both views' "amount" features come back together
    refs = ALL_REFS if full else SHORT_REFS
    actual = repo.store.get_historical_features(entity, refs, full_feature_names=full).to_df()
    expected = oracle(feast_view_of(entity), sources, refs, full_feature_names=full)
    assert_same_rows(actual, expected, feast_view_of(entity))


def test_generated_cases_exercise_every_rule() -> None:
    seen: Counter = Counter()
    for seed in SEEDS:
        entity = make_entity_rows(seed, None)
        oracle(entity, make_sources(seed), ALL_REFS, seen=seen)
    for rule in (
        "unknown key",
        "nothing before",
        "expired by ttl",
        "equal event times",
        "stamped at the entity time",
        "exactly ttl old",
        "repeated entity rows",
    ):
        assert seen[rule] >= 3, f"generated cases exercise {rule!r} only {seen[rule]} times"


@pytest.mark.parametrize(
    "broken",
    [
        Rules(ttl_inclusive=False),
        Rules(at_or_before=False),
        Rules(created_breaks_ties=False),
    ],
    ids=["ttl-window-half-open", "strictly-before", "ties-not-by-created"],
)
def test_the_comparison_notices_a_broken_rule(repo: Repo, broken: Rules) -> None:
    """Each rule decides some rows: an oracle without it disagrees with the store."""
    disagreements = 0
    for seed in SEEDS[:4]:
        sources = make_sources(seed)
        repo.write(sources)
        entity = make_entity_rows(seed, "UTC")
        actual = repo.store.get_historical_features(entity, SHORT_REFS).to_df()
        expected = oracle(entity, sources, SHORT_REFS, rules=broken)
        try:
            assert_same_rows(actual, expected, entity)
        except AssertionError:
            disagreements += 1
    assert disagreements > 0


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_store_agrees_with_feast_duckdb_up_to_row_order(in_repo: Repo, seed: int) -> None:
    """Feast's duckdb store gets the values right but returns rows in another order."""
    sources = make_sources(seed)
    in_repo.write(sources)
    entity = make_entity_rows(seed, ZONES[seed % len(ZONES)])
    ours = in_repo.store.get_historical_features(entity, ALL_REFS, full_feature_names=True)
    theirs = in_repo.feast_duckdb.get_historical_features(
        entity, ALL_REFS, full_feature_names=True
    ).to_df()
    actual = ours.to_df()
    assert list(actual.columns) == list(theirs.columns)
    # A repeated entity row's copies are interchangeable: order both by the row's own note.
    pd.testing.assert_frame_equal(
        _comparable(actual.sort_values("note", kind="stable").drop(columns="note")),
        _comparable(theirs.sort_values("note", kind="stable").drop(columns="note")),
        check_exact=True,
    )


# --- tests: specific rules --------------------------------------------------------------------


def test_naive_entity_timestamps_are_utc_and_pass_through_naive(repo: Repo) -> None:
    """With coerce_tz_aware off, Feast hands naive timestamps to the store, which reads UTC."""
    sources = make_sources(3)
    repo.write(sources)
    naive = make_entity_rows(3, None)
    actual = repo.naive_store.get_historical_features(naive, SHORT_REFS).to_df()
    assert actual["event_timestamp"].dt.tz is None
    assert_same_rows(actual, oracle(naive, sources, SHORT_REFS), naive)


def test_ttl_edges_are_inclusive_to_the_microsecond(repo: Repo) -> None:
    at = START + 48 * HOUR
    micro = pd.Timedelta(microseconds=1)
    sources = make_sources(0)
    sources["merchant_fv"] = pd.DataFrame(
        {
            "merchant_id": [1, 2, 3, 3],
            "event_timestamp": [at - 6 * HOUR, at - 6 * HOUR - micro, at - HOUR, at + micro],
            "rating": [1.0, 2.0, 3.0, 4.0],
            "amount": [0.0, 0.0, 0.0, 0.0],
        }
    )
    repo.write(sources)
    # One event time for all rows, so the TTL edge is also the edge of what the store may skip.
    entity = pd.DataFrame({"merchant_id": [1, 2, 3], "event_timestamp": [at, at, at]})
    out = repo.store.get_historical_features(entity, ["merchant_fv:rating"]).to_df()
    # exactly TTL old: kept; a microsecond older: expired; a microsecond late: not yet known
    assert out["rating"].tolist()[::2] == [1.0, 3.0]
    assert pd.isna(out["rating"].iloc[1])


def test_equal_event_times_are_ranked_by_created_time(repo: Repo) -> None:
    at = START + 10 * HOUR
    sources = make_sources(0)
    sources["spend_fv"] = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2],
            "ts": [at.tz_localize(None)] * 5,
            "created_at": [at + HOUR, at + 3 * HOUR, at + 2 * HOUR, pd.NaT, at],
            "amount_raw": [1.0, 3.0, 2.0, 4.0, 5.0],
            "n_orders": [1, 3, 2, 4, 5],
            "stamped_at": [at] * 5,
        }
    )
    repo.write(sources)
    entity = pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [at, at]})
    out = repo.store.get_historical_features(entity, ["spend_fv:amount"]).to_df()
    # latest created wins; an unknown created time loses to any known one
    assert out["amount"].tolist() == [3.0, 5.0]


def test_empty_entity_rows_and_empty_sources(repo: Repo) -> None:
    sources = {name: frame.iloc[:0] for name, frame in make_sources(0).items()}
    repo.write(sources)
    entity = make_entity_rows(0, "UTC")
    out = repo.store.get_historical_features(entity, SHORT_REFS).to_df()
    assert len(out) == len(entity)
    assert out[[r.split(":")[1] for r in SHORT_REFS]].isna().all().all()
    assert_same_rows(out, oracle(entity, sources, SHORT_REFS), entity)

    repo.write(make_sources(0))
    none = repo.store.get_historical_features(entity.iloc[:0], SHORT_REFS).to_df()
    assert none.empty
    assert list(none.columns) == list(out.columns)


def test_feature_service_with_alias_and_join_key_map(in_repo: Repo) -> None:
    from feast import FeatureService

    view = in_repo.store.get_feature_view("merchant_fv")
    service = FeatureService(
        name="seller_service",
        features=[view.with_name("seller").with_join_key_map({"merchant_id": "seller_id"})],
    )
    in_repo.store.apply([service])
    sources = make_sources(5)
    in_repo.write(sources)
    entity = make_entity_rows(5, "UTC").rename(columns={"merchant_id": "seller_id"})
    out = in_repo.store.get_historical_features(entity, service, full_feature_names=True).to_df()
    assert list(out.columns[-2:]) == ["seller__rating", "seller__amount"]
    expected = oracle(
        entity.rename(columns={"seller_id": "merchant_id"}),
        sources,
        ["merchant_fv:rating", "merchant_fv:amount"],
    )
    assert out["seller__rating"].tolist() == pytest.approx(
        pd.to_numeric(expected["rating"]).tolist(), nan_ok=True
    )
    theirs = in_repo.feast_duckdb.get_historical_features(
        entity, service, full_feature_names=True
    ).to_df()
    assert sorted(theirs["seller__rating"].dropna()) == sorted(out["seller__rating"].dropna())


# --- tests: materialisation reads -------------------------------------------------------------


def _spend_source(repo: Repo) -> Any:
    """The spend view's parquet source, as the registry holds it."""
    return repo.store.get_feature_view("spend_fv").batch_source


def test_pull_latest_is_the_newest_row_per_key_inside_the_window(repo: Repo) -> None:
    from modelworks.features.offline_store import DuckDBAsofOfflineStore

    sources = make_sources(7)
    repo.write(sources)
    stamps = _utc(sources["spend_fv"]["ts"]).sort_values()
    start, end = stamps.iloc[10], stamps.iloc[-10]  # rows sit exactly on both edges
    job = DuckDBAsofOfflineStore.pull_latest_from_table_or_query(
        config=repo.store.config,
        data_source=_spend_source(repo),
        join_key_columns=["customer_id"],
        feature_name_columns=["amount_raw", "n_orders"],
        timestamp_field="ts",
        created_timestamp_column="created_at",
        start_date=start.to_pydatetime(),
        end_date=end.to_pydatetime(),
    )
    actual = job.to_df().sort_values("customer_id", ignore_index=True)
    expected = latest_per_customer(sources["spend_fv"], start, end)
    assert list(actual.columns) == ["customer_id", "amount_raw", "n_orders", "ts", "created_at"]
    assert actual["customer_id"].tolist() == expected["customer_id"].tolist()
    assert actual["amount_raw"].tolist() == expected["amount_raw"].tolist()
    assert _utc(actual["ts"]).tolist() == _utc(expected["ts"]).tolist()


def latest_per_customer(spend: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp):
    """Materialisation's oracle: per customer, the newest row with event time in [start, end]."""
    stamps = _utc(spend["ts"])
    inside = spend[(stamps >= start) & (stamps <= end)]
    return (
        inside.sort_values(["ts", "created_at"], na_position="first", kind="stable")
        .groupby("customer_id")
        .tail(1)
        .sort_values("customer_id", ignore_index=True)
    )


def test_pull_all_keeps_every_row_inside_an_open_or_closed_window(repo: Repo) -> None:
    from modelworks.features.offline_store import DuckDBAsofOfflineStore

    sources = make_sources(8)
    repo.write(sources)
    spend = sources["spend_fv"]
    start = START + 20 * HOUR
    for window, inside in [
        ((None, None), spend),
        ((start, None), spend[_utc(spend["ts"]) >= start]),
        ((None, start), spend[_utc(spend["ts"]) <= start]),
    ]:
        job = DuckDBAsofOfflineStore.pull_all_from_table_or_query(
            config=repo.store.config,
            data_source=_spend_source(repo),
            join_key_columns=["customer_id"],
            feature_name_columns=["amount_raw"],
            timestamp_field="ts",
            start_date=None if window[0] is None else window[0].to_pydatetime(),
            end_date=None if window[1] is None else window[1].to_pydatetime(),
        )
        got = sorted(job.to_arrow().column("amount_raw").to_pylist())
        assert got == sorted(inside["amount_raw"].tolist())


def test_materialize_loads_the_latest_values_online(repo: Repo) -> None:
    sources = make_sources(9)
    spend = sources["spend_fv"]
    # Feast's SQLite online store cannot write a missing created time, whatever the offline store
    spend["created_at"] = spend["created_at"].fillna(spend["stamped_at"] - HOUR)
    repo.write(sources)
    start, end = START - HOUR, START + 72 * HOUR
    repo.store.materialize(start.to_pydatetime(), end.to_pydatetime(), feature_views=["spend_fv"])
    online = repo.store.get_online_features(
        features=["spend_fv:amount"], entity_rows=[{"customer_id": c} for c in range(7)]
    ).to_dict()
    expected = latest_per_customer(sources["spend_fv"], start, end)
    by_customer = dict(zip(expected["customer_id"], expected["amount_raw"], strict=True))
    assert online["amount"] == [by_customer.get(c) for c in range(7)]


# --- tests: errors a person can act on ---------------------------------------------------------


def test_missing_join_key_names_the_column_and_the_view(repo: Repo) -> None:
    repo.write(make_sources(0))
    entity = make_entity_rows(0, "UTC").drop(columns="merchant_id")
    with pytest.raises(ValueError, match=r"merchant_id.*merchant_fv"):
        repo.store.get_historical_features(entity, ["merchant_fv:rating"])


def test_source_without_a_column_names_the_view_and_column(repo: Repo) -> None:
    sources = make_sources(0)
    sources["merchant_fv"] = sources["merchant_fv"].drop(columns="rating")
    repo.write(sources)
    with pytest.raises(ValueError, match=r"merchant_fv.*rating"):
        repo.store.get_historical_features(make_entity_rows(0, "UTC"), ["merchant_fv:rating"])


def test_feature_named_like_an_entity_column_is_refused(repo: Repo) -> None:
    repo.write(make_sources(0))
    entity = make_entity_rows(0, "UTC").rename(columns={"label": "rating"})
    with pytest.raises(ValueError, match=r"rating.*merchant_fv.*full_feature_names"):
        repo.store.get_historical_features(entity, ["merchant_fv:rating"])


def test_sql_entity_queries_are_refused(repo: Repo) -> None:
    with pytest.raises(NotImplementedError, match="entity dataframe"):
        repo.store.get_historical_features("SELECT 1", ["merchant_fv:rating"])
