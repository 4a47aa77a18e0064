<?php

namespace App\Http\Controllers;

class VersionController extends Controller
{
    public function show()
    {
        return response()->json(['version' => config('app.version')]);
    }
}
