"""The keys MongoDB refuses are found in a document's JSON text exactly, whatever the values hold."""

import json
import random

from bravo_pipeline.mongo.limits import refused_keys

ALPHABET = ['a', 'b', '$', '.', '\0', '"', '\\', ':', ',', '{', '}', 'é', ' ', '\n']


def _text(generator: random.Random) -> str:
    return "".join(generator.choice(ALPHABET) for _ in range(generator.randrange(0, 6)))


def _value(generator: random.Random, depth: int) -> object:
    roll = generator.random()
    if depth < 3 and roll < 0.3:
        return {_text(generator): _value(generator, depth + 1) for _ in range(generator.randrange(0, 4))}
    if depth < 3 and roll < 0.4:
        return [_value(generator, depth + 1) for _ in range(generator.randrange(0, 3))]
    return _text(generator) if roll < 0.8 else generator.choice([None, 1, -2.5, True])


def _refused_by_parsing(text: str) -> list[str]:
    found: list[str] = []

    def collect(pairs: list[tuple[str, object]]) -> dict[str, object]:
        found.extend(key for key, _ in pairs if key.startswith("$") or "." in key or "\0" in key)
        return dict(pairs)

    json.loads(text, object_pairs_hook=collect)
    return found


def test_refused_keys_are_exactly_those_a_parser_finds() -> None:
    generator = random.Random(5)
    for round_ in range(20_000):
        document = {"_id": str(round_), **{_text(generator): _value(generator, 0) for _ in range(3)}}
        text = json.dumps(document, ensure_ascii=round_ % 2 == 0, separators=(",", ":"))
        assert sorted(refused_keys(text.encode())) == sorted(_refused_by_parsing(text)), text
