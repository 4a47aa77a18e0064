<?php

use App\Http\Controllers\AuthController;
use App\Http\Controllers\HealthController;
use App\Http\Controllers\ProjectController;
use App\Http\Controllers\VersionController;
use Illuminate\Support\Facades\Route;

Route::get('/health', [HealthController::class, 'show']);
Route::get('/version', [VersionController::class, 'show']);
Route::get('/projects', [ProjectController::class, 'index']);
Route::get('/me', [AuthController::class, 'me']);
