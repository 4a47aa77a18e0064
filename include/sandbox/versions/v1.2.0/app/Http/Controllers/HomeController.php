<?php

namespace App\Http\Controllers;

class HomeController extends Controller
{
    public function show()
    {
        return response('<!doctype html><title>ZenaManage</title><h1>Welcome to ZenaManage</h1><p>Version '.e(config('app.version')).'</p>')
            ->header('Content-Type', 'text/html');
    }
}
