"""The landing-zone contract of SPEC §2, one `RawTable` per table."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import types as T

S, TS, B, D = T.StringType(), T.TimestampType(), T.BooleanType(), T.DateType()


def _field(name: str, dtype: T.DataType, required: bool) -> T.StructField:
    return T.StructField(name, dtype, nullable=not required)


@dataclass(frozen=True)
class RawTable:
    """One landing table: its columns, key and the rules that make a record valid."""

    name: str
    schema: T.StructType
    primary_key: str
    # Timestamp whose UTC date partitions bronze (None for the full snapshots).
    event_time: str | None
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (later, earlier): a record with later < earlier contradicts itself.
    ordered_pairs: tuple[tuple[str, str], ...] = ()
    # column -> (min, max), inclusive; None for an open end.
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # Columns holding an IANA timezone name that Spark must be able to apply.
    timezone_columns: tuple[str, ...] = ()
    is_snapshot: bool = False

    @property
    def has_updated_at(self) -> bool:
        return "updated_at" in self.schema.fieldNames()

    @property
    def required_columns(self) -> list[str]:
        return [f.name for f in self.schema.fields if not f.nullable]

    @property
    def string_columns(self) -> list[str]:
        return [f.name for f in self.schema.fields if isinstance(f.dataType, T.StringType)]

    @property
    def string_array_columns(self) -> list[str]:
        return [f.name for f in self.schema.fields if isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, T.StringType)]

    @property
    def columns(self) -> list[str]:
        return self.schema.fieldNames()


def _schema(*fields: T.StructField) -> T.StructType:
    return T.StructType(list(fields))


SHOPS = RawTable(
    name="shops",
    schema=_schema(
        _field("shop_id", S, True),
        _field("shop_name", S, True),
        _field("platform", S, True),
        _field("category", S, True),
        _field("tier", S, True),
        _field("timezone", S, True),
        _field("opened_date", D, True),
    ),
    primary_key="shop_id",
    event_time=None,
    timezone_columns=("timezone",),
    enums={"platform": ("douyin", "taobao", "tmall")},
    is_snapshot=True,
)

AGENTS = RawTable(
    name="agents",
    schema=_schema(
        _field("agent_id", S, True),
        _field("shop_id", S, True),
        _field("agent_kind", S, True),
        _field("display_name", S, True),
    ),
    primary_key="agent_id",
    event_time=None,
    enums={"agent_kind": ("human", "bot")},
    is_snapshot=True,
)

SESSIONS = RawTable(
    name="sessions",
    schema=_schema(
        _field("session_id", S, True),
        _field("shop_id", S, True),
        _field("buyer_id", S, True),
        _field("started_at", TS, True),
        _field("ended_at", TS, False),
        _field("transferred_to_human_at", TS, False),
        _field("queue_entered_at", TS, False),
        _field("assigned_at", TS, False),
        _field("last_agent_id", S, False),
        _field("is_internal", B, True),
        _field("is_spam", B, True),
        _field("scene_l1", S, False),
        _field("scene_l2", S, False),
        _field("scene_l3", S, False),
        _field("updated_at", TS, True),
    ),
    primary_key="session_id",
    event_time="started_at",
    ordered_pairs=(("ended_at", "started_at"),),
)

MESSAGES = RawTable(
    name="messages",
    schema=_schema(
        _field("message_id", S, True),
        _field("session_id", S, True),
        _field("shop_id", S, True),
        _field("sender_role", S, True),
        _field("agent_id", S, False),
        _field("sent_at", TS, True),
        _field("msg_type", S, True),
    ),
    primary_key="message_id",
    event_time="sent_at",
    enums={
        "sender_role": ("buyer", "human", "bot", "system"),
        "msg_type": ("text", "image", "emoji", "card", "auto_reply"),
    },
)

RATINGS = RawTable(
    name="ratings",
    schema=_schema(
        _field("rating_id", S, True),
        _field("session_id", S, True),
        _field("shop_id", S, True),
        _field("buyer_id", S, True),
        _field("target", S, True),
        _field("invited_at", TS, True),
        _field("rated_at", TS, True),
        _field("score", T.IntegerType(), True),
        _field("tags", T.ArrayType(S), False),
    ),
    primary_key="rating_id",
    event_time="invited_at",
    enums={"target": ("human", "bot")},
    ordered_pairs=(("rated_at", "invited_at"),),
    ranges={"score": (1, 5)},
)

ORDERS = RawTable(
    name="orders",
    schema=_schema(
        _field("order_id", S, True),
        _field("shop_id", S, True),
        _field("buyer_id", S, True),
        _field("created_at", TS, True),
        _field("paid_at", TS, False),
        _field("amount", T.DecimalType(18, 2), True),
        _field("item_count", T.IntegerType(), True),
        _field("updated_at", TS, True),
    ),
    primary_key="order_id",
    event_time="created_at",
    ordered_pairs=(("paid_at", "created_at"),),
    ranges={"amount": (0, None), "item_count": (0, None)},
)

AFTER_SALES = RawTable(
    name="after_sales",
    schema=_schema(
        _field("ticket_id", S, True),
        _field("order_id", S, True),
        _field("shop_id", S, True),
        _field("buyer_id", S, True),
        _field("kind", S, True),
        _field("created_at", TS, True),
        _field("closed_at", TS, False),
        _field("merchant_wait_seconds", T.LongType(), True),
        _field("responsibility", S, False),
        _field("updated_at", TS, True),
    ),
    primary_key="ticket_id",
    event_time="created_at",
    enums={
        "kind": ("refund_only", "return_refund", "exchange"),
        "responsibility": ("merchant", "buyer", "platform", "none"),
    },
    ordered_pairs=(("closed_at", "created_at"),),
    ranges={"merchant_wait_seconds": (0, None)},
)

COMPLAINTS = RawTable(
    name="complaints",
    schema=_schema(
        _field("complaint_id", S, True),
        _field("order_id", S, False),
        _field("shop_id", S, True),
        _field("buyer_id", S, True),
        _field("kind", S, True),
        _field("created_at", TS, True),
    ),
    primary_key="complaint_id",
    event_time="created_at",
    enums={"kind": ("complaint", "dispute", "platform_consult")},
)

# Ingestion order matters: shops first, so every other table can check its shop_id.
RAW_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (SHOPS, AGENTS, SESSIONS, MESSAGES, RATINGS, ORDERS, AFTER_SALES, COMPLAINTS)
}
