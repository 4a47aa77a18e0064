<?php

namespace Tests\Feature;

use Illuminate\Foundation\Testing\RefreshDatabase;
use Tests\TestCase;

class HealthTest extends TestCase
{
    use RefreshDatabase;

    public function test_health_reports_the_database_ok()
    {
        $this->getJson('/api/health')->assertOk()->assertJson(['status' => 'ok', 'database' => 'ok']);
    }

    public function test_version_is_the_version_file()
    {
        $expected = trim(file_get_contents(base_path('VERSION')));
        $this->getJson('/api/version')->assertOk()->assertExactJson(['version' => $expected]);
    }

    public function test_up_and_about_answer_as_laravel_11_and_another_tool_would()
    {
        $this->getJson('/up')->assertOk()->assertJson(['status' => 'ok']);
        $expected = ltrim(trim(file_get_contents(base_path('VERSION'))), 'v');
        $this->getJson('/about')->assertOk()->assertExactJson(['app' => ['name' => 'ZenaManage', 'release' => $expected]]);
    }

    public function test_home_page_names_the_version()
    {
        $this->get('/')->assertOk()->assertSee('ZenaManage');
    }
}
