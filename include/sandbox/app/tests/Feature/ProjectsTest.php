<?php

namespace Tests\Feature;

use Illuminate\Foundation\Testing\RefreshDatabase;
use Tests\TestCase;

class ProjectsTest extends TestCase
{
    use RefreshDatabase;

    public function test_projects_come_from_the_migrated_table()
    {
        $this->getJson('/api/projects')->assertOk()->assertJsonCount(3, 'projects')
            ->assertJsonPath('projects.0.name', 'Website relaunch');
    }
}
