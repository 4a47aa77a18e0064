<?php

namespace App\Http\Controllers;

use Illuminate\Support\Facades\DB;
use Throwable;

class HealthController extends Controller
{
    public function show()
    {
        $checks = ['database' => $this->database(), 'search' => $this->search()];
        $ok = ! in_array(false, array_map(fn ($c) => $c === 'ok', $checks), true);

        return response()->json(
            ['status' => $ok ? 'ok' : 'error', 'version' => config('app.version')] + $checks,
            $ok ? 200 : 503
        );
    }

    private function search(): string
    {
        return config('services.search.url') ? 'ok' : 'not configured';
    }

    private function database(): string
    {
        try {
            DB::select('select 1');

            return 'ok';
        } catch (Throwable $e) {
            return 'error';
        }
    }
}
