<?php

use App\Http\Controllers\HealthController;
use App\Http\Controllers\HomeController;
use App\Http\Controllers\VersionController;
use Illuminate\Support\Facades\Route;

Route::get('/', [HomeController::class, 'show']);
// Laravel 11's health route, and an about page that reports the release without its "v":
// what a host set up by another tool may expose instead of /api/health and /api/version.
Route::get('/up', [HealthController::class, 'show']);
Route::get('/about', [VersionController::class, 'about']);
