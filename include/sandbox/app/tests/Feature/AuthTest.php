<?php

namespace Tests\Feature;

use Tests\TestCase;

class AuthTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        config(['app.probe_token_sha256' => hash('sha256', 'probe-secret')]);
    }

    public function test_the_probe_user_signs_in_with_its_token()
    {
        $this->getJson('/api/me', ['Authorization' => 'Bearer probe-secret'])
            ->assertOk()->assertExactJson(['user' => 'probe']);
    }

    public function test_a_wrong_token_is_refused()
    {
        $this->getJson('/api/me', ['Authorization' => 'Bearer guess'])->assertStatus(401);
        $this->getJson('/api/me')->assertStatus(401);
    }
}
