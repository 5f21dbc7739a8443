"""`AbReport`: what ApacheBench prints, as one frozen record for predicted and observed runs.

The simulator fills it from per-request samples with ab's own arithmetic (`AbReport.from_samples`);
the parser in `asim.sim.abtext` fills it from ab's printed text. Comparison, plots and reports never
care which of the two made a report.

ab's arithmetic (support/ab.c, httpd 2.4, `output_results`):
- times are integer microseconds; ``ap_round_ms(x) = (x + 500) / 1000`` in integers;
- mean = integer total / done; sd = sample sd (n - 1) around that integer mean, printed in ms;
- median: element ``done/2`` of the sorted column, or for odd ``done > 1`` the integer average of
  elements ``done/2`` and ``done/2 + 1`` (ab's quirk: not the middle element);
- percentiles are over Total: element ``done * p / 100`` of the sorted array, 100 % the last one.

None of these depends on the order of the samples, so a long simulated run that repeats its
steady state may count rows several times (``weights``) instead of storing the copies; the
report is the one the stored copies give, to the last bit (sums and order statistics are exact
integers, the sd's sum of squares too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

PERCENTS: tuple[int, ...] = (50, 66, 75, 80, 90, 95, 98, 99, 100)
ROWS: tuple[str, ...] = ("connect", "processing", "waiting", "total")


def round_ms(us: int) -> int:
    """ab's ``ap_round_ms``: whole milliseconds from non-negative integer microseconds."""
    return (us + 500) // 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One finished request as ab records it (integer microseconds).

    ``start_us`` is when ab began the connection, relative to the start of the test; ``ctime_us``
    the connect time; ``time_us`` the whole request (Total); ``waittime_us`` first byte read minus
    last byte written (Waiting).
    """

    start_us: int
    ctime_us: int
    time_us: int
    waittime_us: int

    @property
    def processing_us(self) -> int:
        return self.time_us - self.ctime_us


@dataclass(frozen=True, kw_only=True, slots=True)
class TimesRow:
    """One row of ab's "Connection Times (ms)" table."""

    min_ms: int
    mean_ms: int
    sd_ms: float
    median_ms: int
    max_ms: int

    @classmethod
    def from_us(
        cls, values_us: Sequence[int] | np.ndarray, weights: np.ndarray | None = None
    ) -> TimesRow:
        """Compute the row exactly as ab does from integer-microsecond values (value ``i``
        counted ``weights[i]`` times when ``weights`` are given)."""
        if weights is not None:
            return cls._from_counts(*_distinct(values_us, weights))
        values = np.asarray(values_us, dtype=np.int64)
        done = len(values)
        if done == 0:
            raise ValueError("a Connection Times row needs at least one sample")
        mean_us = int(values.sum()) // done
        if done > 1:
            dev = (values - mean_us).astype(np.float64)
            sd_us = math.sqrt(float(np.dot(dev, dev)) / (done - 1))
        else:
            sd_us = 0.0
        # Order statistics by selection (O(n)), not a full sort: the same elements.
        if done > 1 and done % 2:
            part = np.partition(values, (done // 2, done // 2 + 1))
            median_us = (int(part[done // 2]) + int(part[done // 2 + 1])) // 2
        else:
            median_us = int(np.partition(values, done // 2)[done // 2])
        return cls(
            min_ms=round_ms(int(values.min())),
            mean_ms=round_ms(mean_us),
            sd_ms=sd_us / 1000.0,
            median_ms=round_ms(median_us),
            max_ms=round_ms(int(values.max())),
        )

    @classmethod
    def _from_counts(cls, values: np.ndarray, counts: np.ndarray) -> TimesRow:
        """`from_us` of sorted distinct ``values`` occurring ``counts`` times each."""
        done = int(counts.sum())
        if done == 0:
            raise ValueError("a Connection Times row needs at least one sample")
        mean_us = int(np.dot(values, counts)) // done
        if done > 1:
            # Python integers: the sum ab's double would hold, exactly, however many copies.
            squares = sum(int(c) * d * d for d, c in zip((values - mean_us).tolist(),
                                                           counts.tolist(), strict=True))
            sd_us = math.sqrt(float(squares) / (done - 1))
        else:
            sd_us = 0.0
        if done > 1 and done % 2:
            median_us = (_kth(values, counts, done // 2)
                         + _kth(values, counts, done // 2 + 1)) // 2
        else:
            median_us = _kth(values, counts, done // 2)
        return cls(
            min_ms=round_ms(int(values[0])),
            mean_ms=round_ms(mean_us),
            sd_ms=sd_us / 1000.0,
            median_ms=round_ms(median_us),
            max_ms=round_ms(int(values[-1])),
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "min": self.min_ms,
            "mean": self.mean_ms,
            "sd": round(self.sd_ms, 1),
            "median": self.median_ms,
            "max": self.max_ms,
        }


def _distinct(
    values_us: Sequence[int] | np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values and how often each occurs, value ``i`` counted
    ``weights[i]`` times."""
    values = np.asarray(values_us, dtype=np.int64)
    if not len(values):
        return values, np.zeros(0, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.add.reduceat(np.asarray(weights, dtype=np.int64)[order], starts)
    return ordered[starts], counts


def _kth(values: np.ndarray, counts: np.ndarray, k: int) -> int:
    """Element ``k`` (from 0) of the sorted samples, from distinct values and their counts."""
    return int(values[np.searchsorted(np.cumsum(counts), k, side="right")])


def percentiles_from_us(
    total_us: Sequence[int] | np.ndarray, weights: np.ndarray | None = None
) -> dict[int, int]:
    """ab's "Percentage of the requests served within a certain time" table, in ms (value
    ``i`` counted ``weights[i]`` times when ``weights`` are given)."""
    if weights is not None:
        values, counts = _distinct(total_us, weights)
        done = int(counts.sum())
        indices = {p: done - 1 if p >= 100 else done * p // 100 for p in PERCENTS}
        return {p: round_ms(_kth(values, counts, i)) for p, i in indices.items()}
    values = np.asarray(total_us, dtype=np.int64)
    done = len(values)
    indices = {p: done - 1 if p >= 100 else done * p // 100 for p in PERCENTS}
    part = np.partition(values, sorted(set(indices.values())))  # those elements, as if sorted
    return {p: round_ms(int(part[i])) for p, i in indices.items()}


@dataclass(frozen=True, kw_only=True)
class AbReport:
    """The numbers of one ab run, predicted or observed.

    ``requests_per_second`` and both ``time_per_request`` lines follow ab's formulas:
    done / T, C * T * 1000 / done, and T * 1000 / done, with T the time taken.
    """

    concurrency: int
    complete_requests: int
    time_taken_s: float
    requests_per_second: float
    time_per_request_ms: float
    time_per_request_all_ms: float
    connect: TimesRow
    processing: TimesRow
    waiting: TimesRow
    total: TimesRow
    percentiles_ms: Mapping[int, int]
    failed_requests: int = 0
    non_2xx_responses: int = 0
    keepalive_requests: int | None = None
    samples: tuple[Sample, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.complete_requests < 1:
            raise ValueError(f"complete_requests must be >= 1, got {self.complete_requests}")
        missing = [p for p in PERCENTS if p not in self.percentiles_ms]
        if missing:
            raise ValueError(f"percentiles_ms lacks {missing}")

    @classmethod
    def from_samples(
        cls,
        samples: Sequence[Sample],
        *,
        concurrency: int,
        time_taken_us: int,
        failed_requests: int = 0,
        non_2xx_responses: int = 0,
        keepalive_requests: int | None = None,
        keep_samples: bool = False,
    ) -> AbReport:
        """Summarise per-request samples exactly as ab's ``output_results`` does."""
        report = cls.from_columns(
            ctime_us=np.fromiter((s.ctime_us for s in samples), np.int64, len(samples)),
            time_us=np.fromiter((s.time_us for s in samples), np.int64, len(samples)),
            waittime_us=np.fromiter((s.waittime_us for s in samples), np.int64, len(samples)),
            concurrency=concurrency,
            time_taken_us=time_taken_us,
            failed_requests=failed_requests,
            non_2xx_responses=non_2xx_responses,
            keepalive_requests=keepalive_requests,
        )
        if keep_samples:
            object.__setattr__(report, "samples", tuple(samples))
        return report

    @classmethod
    def from_columns(
        cls,
        *,
        ctime_us: np.ndarray,
        time_us: np.ndarray,
        waittime_us: np.ndarray,
        concurrency: int,
        time_taken_us: int,
        failed_requests: int = 0,
        non_2xx_responses: int = 0,
        keepalive_requests: int | None = None,
        weights: np.ndarray | None = None,
    ) -> AbReport:
        """Like `from_samples`, from three integer-microsecond columns (one row per request,
        or row ``i`` counted ``weights[i]`` times: see the module docstring)."""
        done = len(time_us) if weights is None else int(np.sum(weights))
        if done == 0:
            raise ValueError("an ab report needs at least one finished request")
        taken_s = time_taken_us / 1e6
        if taken_s <= 0:
            raise ValueError(f"time taken must be positive, got {time_taken_us} us")
        return cls(
            concurrency=concurrency,
            complete_requests=done,
            time_taken_s=taken_s,
            requests_per_second=done / taken_s,
            time_per_request_ms=concurrency * taken_s * 1000.0 / done,
            time_per_request_all_ms=taken_s * 1000.0 / done,
            connect=TimesRow.from_us(ctime_us, weights),
            processing=TimesRow.from_us(time_us - ctime_us, weights),
            waiting=TimesRow.from_us(waittime_us, weights),
            total=TimesRow.from_us(time_us, weights),
            percentiles_ms=percentiles_from_us(time_us, weights),
            failed_requests=failed_requests,
            non_2xx_responses=non_2xx_responses,
            keepalive_requests=keepalive_requests,
        )

    def row(self, name: str) -> TimesRow:
        """The Connection Times row called ``name`` (connect, processing, waiting, total)."""
        if name not in ROWS:
            raise KeyError(f"no row {name!r}; rows are {', '.join(ROWS)}")
        return getattr(self, name)

    def to_dict(self) -> dict[str, object]:
        """The measurement fields of asim's JSON point (no scenario fields)."""
        return {
            "time_taken_s": round(self.time_taken_s, 6),
            "requests_per_second": round(self.requests_per_second, 3),
            "time_per_request_ms": round(self.time_per_request_ms, 3),
            "time_per_request_all_ms": round(self.time_per_request_all_ms, 3),
            "connect_ms": self.connect.to_dict(),
            "processing_ms": self.processing.to_dict(),
            "waiting_ms": self.waiting.to_dict(),
            "total_ms": self.total.to_dict(),
            "percentiles_ms": {str(p): self.percentiles_ms[p] for p in PERCENTS},
            "complete_requests": self.complete_requests,
            "failed_requests": self.failed_requests,
            "non_2xx_responses": self.non_2xx_responses,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, concurrency: int) -> AbReport:
        """Rebuild a report from `to_dict` output (samples are not kept in JSON)."""

        def row(key: str) -> TimesRow:
            r = data[key]
            return TimesRow(
                min_ms=int(r["min"]),
                mean_ms=int(r["mean"]),
                sd_ms=float(r["sd"]),
                median_ms=int(r["median"]),
                max_ms=int(r["max"]),
            )

        return cls(
            concurrency=concurrency,
            complete_requests=int(data["complete_requests"]),
            time_taken_s=float(data["time_taken_s"]),
            requests_per_second=float(data["requests_per_second"]),
            time_per_request_ms=float(data["time_per_request_ms"]),
            time_per_request_all_ms=float(data["time_per_request_all_ms"]),
            connect=row("connect_ms"),
            processing=row("processing_ms"),
            waiting=row("waiting_ms"),
            total=row("total_ms"),
            percentiles_ms={int(k): int(v) for k, v in dict(data["percentiles_ms"]).items()},
            failed_requests=int(data.get("failed_requests", 0)),
            non_2xx_responses=int(data.get("non_2xx_responses", 0)),
        )
