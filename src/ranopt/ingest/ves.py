"""ONAP VES 7.x events (single or ``eventList`` batches) carrying PM data.

- ``perf3gpp`` domain: ``perf3gppFields.measDataCollection`` (3GPP PM in JSON, as the O-RAN SC
  RAN PM pipeline emits it): cell DN = ``measuredEntityDn`` + ``measObjInstId``, interval
  starting at ``startEpochMicrosec`` and lasting ``granularityPeriod`` seconds.
- ``measurement`` domain: ``measurementFields.additionalMeasurements``, one named hash map
  per cell (name = the cell's DN, name or NR cell identity), interval starting at
  ``startEpochMicrosec`` and lasting ``measurementInterval`` seconds.

- ``fault`` domain (when the caller collects faults: the VES listener): ``faultFields``
  (``alarmCondition``, ``eventSeverity``, ``specificProblem``), the cell named by
  ``alarmInterfaceA`` or else the header's ``sourceName``, raised or cleared at
  ``startEpochMicrosec`` (``VesFault``). Without a collector they are counted as skipped.

Events of other domains (stndDefined, ...) are counted in ``skipped``. The header's
epoch fields are microseconds (VES 7); ``epoch_unit="ms"`` reads emitters that write
milliseconds into them (the O-RAN SC ``pm_report.json`` test event does).
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticError

from ranopt.errors import ValidationError
from ranopt.ingest import jsonsafe
from ranopt.ingest.batch import (
    CELL_CLASSES,
    ParsedBatch,
    RecordBuilder,
    object_class,
    parse_value,
)
from ranopt.ingest.times import MAX_TIME_S, MIN_TIME_S

EpochUnit = Literal["us", "ms"]
_PER_SECOND = {"us": 1_000_000, "ms": 1_000}
Number = StrictInt | StrictFloat


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CommonEventHeader(_Loose):
    """The header fields ranopt reads (VES 7.2 ``commonEventHeader``)."""

    domain: StrictStr
    source_name: StrictStr = Field(alias="sourceName")
    start_epoch: Number = Field(alias="startEpochMicrosec")
    last_epoch: Number = Field(alias="lastEpochMicrosec")


class MeasResult(_Loose):
    """One ``measResults`` entry: position and one of iValue, rValue, sValue, isNull."""

    p: StrictInt
    i_value: StrictInt | None = Field(default=None, alias="iValue")
    r_value: Number | None = Field(default=None, alias="rValue")
    s_value: StrictStr | None = Field(default=None, alias="sValue")
    is_null: Literal["true", "false"] | None = Field(default=None, alias="isNull")


class MeasValues(_Loose):
    """One measured object's results."""

    meas_obj_inst_id: StrictStr = Field(alias="measObjInstId")
    suspect_flag: Literal["true", "false"] = Field(default="false", alias="suspectFlag")
    meas_results: list[MeasResult] = Field(alias="measResults")


class MeasTypes(_Loose):
    """Counter names by position (``sMeasTypesList``)."""

    s_meas_types_list: list[StrictStr] = Field(alias="sMeasTypesList")


class MeasInfo(_Loose):
    """One ``measInfoList`` entry."""

    meas_types: MeasTypes = Field(alias="measTypes")
    meas_values_list: list[MeasValues] = Field(alias="measValuesList")


class MeasDataCollection(_Loose):
    """``perf3gppFields.measDataCollection``."""

    granularity_period: Number = Field(alias="granularityPeriod")
    measured_entity_dn: StrictStr = Field(alias="measuredEntityDn")
    meas_info_list: list[MeasInfo] = Field(alias="measInfoList")


class Perf3gppFields(_Loose):
    """``perf3gppFields``."""

    meas_data_collection: MeasDataCollection = Field(alias="measDataCollection")


class NamedHashMap(_Loose):
    """One ``additionalMeasurements`` entry."""

    name: StrictStr
    hash_map: dict[str, StrictStr] = Field(alias="hashMap")


class MeasurementFields(_Loose):
    """``measurementFields`` (the parts ranopt reads)."""

    measurement_interval: Number = Field(alias="measurementInterval")
    additional_measurements: list[NamedHashMap] = Field(alias="additionalMeasurements")


Severity = Literal["CRITICAL", "MAJOR", "MINOR", "WARNING", "NORMAL"]
RAISING: frozenset[str] = frozenset({"CRITICAL", "MAJOR"})  # severities that raise an outage


class FaultFields(_Loose):
    """``faultFields`` (VES 7.2): the parts ranopt reads, checked at the boundary."""

    alarm_condition: StrictStr = Field(alias="alarmCondition", min_length=1, max_length=200)
    event_severity: Severity = Field(alias="eventSeverity")
    specific_problem: StrictStr = Field(alias="specificProblem", min_length=1, max_length=500)
    alarm_interface_a: StrictStr | None = Field(
        default=None, alias="alarmInterfaceA", min_length=1, max_length=1000
    )


@dataclass(frozen=True)
class VesFault:
    """One fault event: the cell it names, what is wrong, raised or cleared, and when."""

    key: str  # the cell: alarmInterfaceA, else the header's sourceName (DN, name or NCI)
    key_field: str  # the field that named it, for error messages
    alarm_condition: str
    severity: str
    specific_problem: str
    time_s: int  # startEpochMicrosec, epoch seconds
    ref: str  # "event", "eventList[3]"

    @property
    def raises(self) -> bool:
        """CRITICAL / MAJOR raise the alarm; NORMAL clears it (MINOR / WARNING only inform)."""
        return self.severity in RAISING

    @property
    def clears(self) -> bool:
        """A NORMAL event clears the alarm it names."""
        return self.severity == "NORMAL"


def parse_ves(
    data: bytes,
    *,
    source: str = "event",
    epoch_unit: EpochUnit = "us",
    faults: list[VesFault] | None = None,
) -> ParsedBatch:
    """Parse a VES event or ``eventList`` into records; malformed events become problems.

    ``faults``: a list the ``fault`` domain's events are appended to (validated); without it
    they are counted as skipped.
    """
    builder = RecordBuilder(key_kind="any", time_field="commonEventHeader.startEpochMicrosec")
    try:
        document = jsonsafe.loads(data)
    except ValidationError as exc:
        builder.problems.add(source, "json", str(exc).removeprefix("json: "))
        return builder.build()
    if isinstance(document, dict) and "eventList" in document:
        events = document["eventList"]
        if not isinstance(events, list):
            builder.problems.add(source, "eventList", "is not an array")
            return builder.build()
        items = [(f"eventList[{i}]", e) for i, e in enumerate(events)]
    elif isinstance(document, dict) and "event" in document:
        items = [("event", document["event"])]
    else:
        builder.problems.add(source, "event", "neither an event nor an eventList")
        return builder.build()
    for where, event in items:
        _parse_event(builder, where, event, _PER_SECOND[epoch_unit], faults)
    return builder.build()


def _problems_from(builder: RecordBuilder, where: str, exc: PydanticError) -> None:
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        builder.problems.add(where, path, error["msg"])


def _parse_event(
    builder: RecordBuilder,
    where: str,
    event: Any,
    per_second: int,
    faults: list[VesFault] | None,
) -> None:
    if not isinstance(event, dict):
        builder.problems.add(where, "event", "is not an object")
        return
    try:
        header = CommonEventHeader.model_validate(event.get("commonEventHeader"))
    except PydanticError as exc:
        _problems_from(builder, f"{where}.commonEventHeader", exc)
        return
    epochs = _epochs_s(builder, where, header, per_second)
    if epochs is None:
        return
    start_s, duration_s = epochs
    if header.domain == "perf3gpp":
        try:
            fields = Perf3gppFields.model_validate(event.get("perf3gppFields"))
        except PydanticError as exc:
            _problems_from(builder, f"{where}.perf3gppFields", exc)
            return
        _perf3gpp(builder, where, fields.meas_data_collection, start_s, duration_s)
    elif header.domain == "measurement":
        try:
            measurement = MeasurementFields.model_validate(event.get("measurementFields"))
        except PydanticError as exc:
            _problems_from(builder, f"{where}.measurementFields", exc)
            return
        _measurement(builder, where, measurement, start_s, duration_s)
    elif header.domain == "fault" and faults is not None:
        try:
            fault = FaultFields.model_validate(event.get("faultFields"))
        except PydanticError as exc:
            _problems_from(builder, f"{where}.faultFields", exc)
            return
        named_by_interface = fault.alarm_interface_a is not None
        faults.append(VesFault(
            key=fault.alarm_interface_a if fault.alarm_interface_a else header.source_name,
            key_field="faultFields.alarmInterfaceA" if named_by_interface
            else "commonEventHeader.sourceName",
            alarm_condition=fault.alarm_condition, severity=fault.event_severity,
            specific_problem=fault.specific_problem, time_s=start_s, ref=where,
        ))  # fmt: skip
    else:
        builder.skip(f"{header.domain} event")


def _epochs_s(
    builder: RecordBuilder, where: str, header: CommonEventHeader, per_second: int
) -> tuple[int, int] | None:
    """Return the event's start (epoch s) and duration (s), or None after a problem."""
    out = []
    for name, value in (
        ("startEpochMicrosec", header.start_epoch),
        ("lastEpochMicrosec", header.last_epoch),
    ):
        if not MIN_TIME_S * per_second <= value <= MAX_TIME_S * per_second:
            builder.problems.add(
                where, f"commonEventHeader.{name}",
                f"{value!r} is not a time between 1970 and 2100 "
                f"({'microseconds' if per_second == 1_000_000 else 'milliseconds'})",
            )  # fmt: skip
            return None
        if isinstance(value, float) and not value.is_integer():
            builder.problems.add(
                where, f"commonEventHeader.{name}", f"{value!r} is not a whole number"
            )
            return None
        out.append(int(value))
    start, last = out
    start_s, rem = divmod(start, per_second)
    if rem:
        builder.problems.add(where, "commonEventHeader.startEpochMicrosec", "not on a whole second")
    if last < start:
        builder.problems.add(
            where, "commonEventHeader.lastEpochMicrosec", "is before startEpochMicrosec"
        )
        return None
    return start_s, (last - start) // per_second


def _check_period(
    builder: RecordBuilder, where: str, field: str, period_s: int, duration_s: int
) -> bool:
    if period_s != duration_s:
        builder.problems.add(
            where, field,
            f"{period_s} s differs from lastEpochMicrosec - startEpochMicrosec = {duration_s} s",
        )  # fmt: skip
        return False
    return True


def _perf3gpp(
    builder: RecordBuilder, where: str, mdc: MeasDataCollection, start_s: int, duration_s: int
) -> None:
    period_s = int(mdc.granularity_period)
    field = "perf3gppFields.measDataCollection.granularityPeriod"
    if not _check_period(builder, where, field, period_s, duration_s):
        return
    for i, info in enumerate(mdc.meas_info_list):
        names = info.meas_types.s_meas_types_list
        for j, values in enumerate(info.meas_values_list):
            dn = f"{mdc.measured_entity_dn},{values.meas_obj_inst_id}"
            kind = object_class(dn)
            if kind not in CELL_CLASSES:
                builder.skip(kind)
                continue
            ref = f"{where}.measInfoList[{i}].measValuesList[{j}] {values.meas_obj_inst_id}"
            counters: dict[str, float] = {}
            for result in values.meas_results:
                if not 1 <= result.p <= len(names):
                    builder.problems.add(ref, f"measResults[p={result.p}]", "no such measType")
                    continue
                name = names[result.p - 1]
                if result.is_null == "true":
                    continue
                value = _result_value(result)
                if value is None:
                    builder.problems.add(ref, name, "value is missing or not a number")
                    continue
                counters[name] = value
            builder.add(
                key=dn, time_s=start_s, duration_s=period_s, counters=counters,
                suspect=values.suspect_flag == "true", ref=ref,
            )  # fmt: skip


def _result_value(result: MeasResult) -> float | None:
    try:
        if result.i_value is not None:
            return float(result.i_value)
        if result.r_value is not None:
            return float(result.r_value)
        if result.s_value is not None:
            return parse_value(result.s_value)
    except (ValueError, OverflowError):
        return None
    return None


def _measurement(
    builder: RecordBuilder, where: str, fields: MeasurementFields, start_s: int, duration_s: int
) -> None:
    period_s = int(fields.measurement_interval)
    if not _check_period(
        builder, where, "measurementFields.measurementInterval", period_s, duration_s
    ):
        return
    for i, named in enumerate(fields.additional_measurements):
        ref = f"{where}.measurementFields.additionalMeasurements[{i}] {named.name}"
        counters: dict[str, float] = {}
        for name, text in named.hash_map.items():
            try:
                counters[name] = parse_value(text)
            except ValueError as exc:
                builder.problems.add(ref, f"hashMap.{name}", str(exc))
        builder.add(
            key=named.name, time_s=start_s, duration_s=period_s, counters=counters,
            suspect=False, ref=ref,
        )  # fmt: skip
