<?php

namespace App\Http\Controllers;

class VersionController extends Controller
{
    public function show()
    {
        return response()->json(['version' => config('app.version')]);
    }

    public function about()
    {
        return response()->json(['app' => ['name' => 'ZenaManage', 'release' => ltrim(config('app.version'), 'v')]]);
    }
}
