"""The 27 tables the exporter knows (see shared/spec/source-schema.md)."""

KNOWN_TABLES: tuple[str, ...] = (
    "accounts",
    "campaigns",
    "changesets",
    "channels",
    "line_item_media_buys",
    "line_item_media_buys_history",
    "line_items",
    "line_items_history",
    "media_buys",
    "media_buys_history",
    "media_platform_entities",
    "media_platform_entities_history",
    "media_platform_entity_metadata",
    "media_platforms",
    "platform_buy_daily_impressions",
    "platform_buy_daily_videos",
    "rate_card",
    "rate_card_history",
    "reps",
    "reps_x_teams",
    "strategies",
    "strategies_history",
    "tactic_media_platforms",
    "tactics",
    "teams",
    "unit_price_types",
    "users",
)

# Rows at scale 1 (the real export of 2025-06-22: 848,937 rows in all).
ROWS_AT_SCALE_1: dict[str, int] = {
    "accounts": 9_796,
    "campaigns": 13_417,
    "changesets": 154_020,
    "channels": 7,
    "line_item_media_buys": 5_548,
    "line_item_media_buys_history": 9_000,
    "line_items": 4_118,
    "line_items_history": 12_000,
    "media_buys": 56_020,
    "media_buys_history": 120_000,
    "media_platform_entities": 142_333,
    "media_platform_entities_history": 0,
    "media_platform_entity_metadata": 280_000,
    "media_platforms": 24,
    "platform_buy_daily_impressions": 0,
    "platform_buy_daily_videos": 0,
    "rate_card": 250,
    "rate_card_history": 1_200,
    "reps": 60,
    "reps_x_teams": 90,
    "strategies": 13_417,
    "strategies_history": 27_000,
    "tactic_media_platforms": 180,
    "tactics": 36,
    "teams": 88,
    "unit_price_types": 7,
    "users": 326,
}

# Lookup tables keep their size whatever the scale.
FIXED_SIZE_TABLES: frozenset[str] = frozenset(
    {"channels", "media_platforms", "tactics", "teams", "unit_price_types",
     "tactic_media_platforms", "reps", "reps_x_teams", "users", "rate_card"}
)
