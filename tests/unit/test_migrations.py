"""Migration safety: additive or destructive, by reading up()."""

from __future__ import annotations

import pytest

from laravel_release.migrations import classify, describe, parse_bundle, up_body

TEMPLATE = """<?php
use Illuminate\\Database\\Migrations\\Migration;
class M extends Migration
{{
    public function up()
    {{
        {up}
    }}

    public function down()
    {{
        Schema::dropIfExists('projects');
        Schema::table('projects', function (Blueprint $table) {{ $table->dropColumn('status'); }});
    }}
}}
"""


@pytest.mark.parametrize(
    ("up", "kind", "reason"),
    [
        ("Schema::create('tags', function (Blueprint $t) { $t->id(); $t->string('name'); });", "additive", None),
        ("Schema::table('projects', function ($t) { $t->string('status')->default('active'); });", "additive", None),
        ("Schema::table('projects', function ($t) { $t->index('name'); });", "additive", None),
        ("DB::table('projects')->insert(['name' => 'x']);", "additive", None),
        ("Schema::drop('tags');", "destructive", "drops a table"),
        ("Schema::dropIfExists('tags');", "destructive", "drops a table"),
        ("Schema::table('p', function ($t) { $t->dropColumn('status'); });", "destructive", "drops a column or table"),
        ("Schema::table('p', function ($t) { $t->renameColumn('a', 'b'); });", "destructive", "renames"),
        ("Schema::rename('a', 'b');", "destructive", "renames a table"),
        (
            "Schema::table('p', function ($t) { $t->text('name')->change(); });",
            "destructive",
            "changes a column's type",
        ),
        ("DB::table('projects')->update(['status' => 'done']);", "destructive", "rewrites data"),
        ("DB::statement('ALTER TABLE p MODIFY name TEXT');", "destructive", "raw SQL"),
        ("// Schema::drop('tags'); kept for later\n Schema::create('x', fn ($t) => $t->id());", "additive", None),
    ],
)
def test_only_up_is_read_and_each_kind_of_change_is_named(up, kind, reason):
    found = classify("2026_01_01_000000_m", TEMPLATE.format(up=up))
    assert found.kind == kind
    if reason:
        assert any(reason in r for r in found.reasons)


def test_up_body_is_the_method_not_the_file():
    body = up_body(TEMPLATE.format(up="Schema::create('a', function ($t) { $t->id(); });"))
    assert "Schema::create('a'" in body and "dropIfExists" not in body


def test_the_build_bundle_is_split_per_file_and_described():
    bundle = "=== database/migrations/a.php\n<?php one\n=== database/migrations/b.php\n<?php two\n"
    assert parse_bundle(bundle) == {
        "database/migrations/a.php": "<?php one\n",
        "database/migrations/b.php": "<?php two\n",
    }
    assert parse_bundle("") == {}
    assert describe([]) == "no new migrations"
    assert describe([classify("b", TEMPLATE.format(up="Schema::drop('t');"))]) == "b: destructive (drops a table)"
