<?php

namespace App\Http\Controllers;

class HomeController extends Controller
{
    public function show()
    {
        return response('<!doctype html><title>ZenaManage</title><h1>ZenaManage '.e(config('app.version')).'</h1>')
            ->header('Content-Type', 'text/html');
    }
}
