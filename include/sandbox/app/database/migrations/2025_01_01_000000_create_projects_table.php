<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Schema;

class CreateProjectsTable extends Migration
{
    public function up()
    {
        Schema::create('projects', function (Blueprint $table) {
            $table->id();
            $table->string('name');
            $table->timestamps();
        });

        DB::table('projects')->insert([
            ['name' => 'Website relaunch', 'created_at' => now(), 'updated_at' => now()],
            ['name' => 'Mobile app', 'created_at' => now(), 'updated_at' => now()],
            ['name' => 'Data warehouse', 'created_at' => now(), 'updated_at' => now()],
        ]);
    }

    public function down()
    {
        Schema::dropIfExists('projects');
    }
}
