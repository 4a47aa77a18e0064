<?php

namespace App\Http\Controllers;

use Illuminate\Support\Facades\DB;

class ProjectController extends Controller
{
    public function index()
    {
        return response()->json([
            'projects' => DB::table('projects')->orderBy('id')->get(['id', 'name']),
        ]);
    }
}
