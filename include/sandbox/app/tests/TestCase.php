<?php

namespace Tests;

use Illuminate\Foundation\Testing\TestCase as BaseTestCase;

abstract class TestCase extends BaseTestCase
{
    use CreatesApplication;

    // Mockery is not shipped by Debian; artisan calls in tests print instead of being mocked.
    public $mockConsoleOutput = false;
}
