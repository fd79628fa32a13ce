using System.Text.Json.Nodes;
using System.Numerics;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Random;
using RoboRl.Sims.Swarm;

namespace RoboRl.Sims.Tests;

/// <summary>The swarm simulator's physics against closed forms and brute-force references.</summary>
public class SwarmPhysicsTests
{
    private static float[] HoverActions(SwarmEnv env) => Enumerable.Repeat(env.Task.Robot.HoverAction(), env.NumEnvs * 4).ToArray();

    /// <summary>Two quads in contact, approaching along x with unequal masses.</summary>
    private static QuadrotorBatch Pair(SwarmTaskConfig task, float massRatio)
    {
        var b = new QuadrotorBatch(task.Robot, 2);
        b.SetPose(0, new Vector3(0, 0, 2), Quaternion.Identity);
        b.SetPose(1, new Vector3(0.08f, 0.01f, 2.005f), Quaternion.Identity);
        b.SetVelocities(0, new Vector3(1.5f, 0.2f, -0.1f), Vector3.Zero);
        b.SetVelocities(1, new Vector3(-0.7f, 0.1f, 0.3f), Vector3.Zero);
        b.Mass[1] = b.Mass[0] * massRatio;
        return b;
    }

    private static Vector3 Momentum(QuadrotorBatch b) => b.Mass[0] * b.Velocity(0) + b.Mass[1] * b.Velocity(1);

    [TestCase(1f)]
    [TestCase(0.5f)]
    public void QuadContactConservesThePairsMomentumAndWithRestitutionOneItsEnergy(float restitution)
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(2, 1, restitution: restitution);
        QuadrotorBatch b = Pair(task, massRatio: 1.3f);
        Vector3 before = Momentum(b);
        float energyBefore = 0.5f * (b.Mass[0] * b.Velocity(0).LengthSquared() + b.Mass[1] * b.Velocity(1).LengthSquared());
        Vector3 n = Vector3.Normalize(b.Position(0) - b.Position(1));
        float approachBefore = Vector3.Dot(b.Velocity(0) - b.Velocity(1), n);
        var random = new LaneRandom(8);
        random.Seed(1, 0); random.Seed(1, 1);
        var mask = new uint[2]; var newContacts = new int[2];
        int pairs = SwarmPhysics.QuadContacts(b, 0, 2, task.CollisionDistanceM, task.Contact, random, new uint[2], mask, newContacts);

        Assert.That(pairs, Is.EqualTo(1));
        Assert.That(newContacts, Is.EqualTo(new[] { 1, 1 }));
        Assert.That(mask, Is.EqualTo(new uint[] { 2, 1 }));
        Vector3 after = Momentum(b);
        Assert.That(Vector3.Distance(after, before), Is.LessThan(1e-6f * before.Length()));
        float approachAfter = Vector3.Dot(b.Velocity(0) - b.Velocity(1), n);
        Assert.That(approachAfter, Is.EqualTo(-restitution * approachBefore).Within(1e-5f));
        float energyAfter = 0.5f * (b.Mass[0] * b.Velocity(0).LengthSquared() + b.Mass[1] * b.Velocity(1).LengthSquared());
        if (restitution == 1f) Assert.That(energyAfter, Is.EqualTo(energyBefore).Within(1e-5f * energyBefore));
        else Assert.That(energyAfter, Is.LessThan(energyBefore));
    }

    [Test]
    public void ContactPairNoiseIsMomentumFreeAndStillSeparates()
    {
        // QuadSwarm's noise, without its independent part: the pair part is opposite and mass-weighted, so momentum stays.
        SwarmTaskConfig noisy = SwarmTestFiles.PhysicsTask(2, 1, contactNoise: true);
        SwarmContactModel model = noisy.Contact with { IndependentNoiseStd = 0 };
        for (int seed = 1; seed <= 20; seed++)
        {
            QuadrotorBatch b = Pair(noisy, massRatio: 0.8f);
            Vector3 before = Momentum(b);
            var random = new LaneRandom(8);
            random.Seed((ulong)seed, 0); random.Seed((ulong)seed, 1);
            SwarmPhysics.QuadContacts(b, 0, 2, noisy.CollisionDistanceM, model, random, new uint[2], new uint[2], new int[2]);
            Assert.That(Vector3.Distance(Momentum(b), before), Is.LessThan(1e-5f * before.Length()), $"seed {seed}");
            Vector3 n = Vector3.Normalize(b.Position(0) - b.Position(1));
            Assert.That(Vector3.Dot(b.Velocity(0) - b.Velocity(1), n), Is.GreaterThanOrEqualTo(-1e-6f), $"seed {seed}: still approaching");
        }
    }

    [Test]
    public void HeadOnQuadsBounceWithoutGrowingInterpenetration()
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(2, 1);
        using var env = new SwarmEnv(task, 1, threadCount: 1);
        env.Reset(3);
        QuadrotorBatch b = env.Batch;
        int a = env.Lane(0, 0), c = env.Lane(0, 1);
        b.SetPose(a, new Vector3(-0.3f, 0, 2), Quaternion.Identity);
        b.SetPose(c, new Vector3(0.3f, 0.01f, 2), Quaternion.Identity);
        b.SetVelocities(a, new Vector3(2, 0, 0), Vector3.Zero);
        b.SetVelocities(c, new Vector3(-2, 0, 0), Vector3.Zero);
        env.SetGoal(0, 0, new Vector3(-0.3f, 0, 2));
        env.SetGoal(0, 1, new Vector3(0.3f, 0, 2));
        float[] hover = HoverActions(env);
        float firstPenetration = float.NaN;
        int contactSteps = 0;
        for (int k = 0; k < 50; k++)
        {
            env.Step(hover);
            float penetration = task.CollisionDistanceM - Vector3.Distance(b.Position(a), b.Position(c));
            if (env.NewQuadContacts(0, 0) > 0) { contactSteps++; firstPenetration = penetration; }
            else if (!float.IsNaN(firstPenetration) && penetration > 0)
                Assert.That(penetration, Is.LessThanOrEqualTo(firstPenetration + 1e-6f), $"step {k}: penetration grew");
        }
        Assert.That(contactSteps, Is.EqualTo(1), "one contact, counted once");
        Assert.That(Vector3.Distance(b.Position(a), b.Position(c)), Is.GreaterThan(task.CollisionDistanceM), "they separate");
        Assert.That(b.Vx[a], Is.LessThan(0f));
        Assert.That(env.EpisodeCollisions(0, 0).Quads, Is.EqualTo(1));
    }

    [Test]
    public void DownwashActsOnlyInsideTheCylinderBelowAQuad()
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(5, 1, downwash: true);
        var b = new QuadrotorBatch(task.Robot, 5);
        b.SetPose(0, new Vector3(0, 0, 2), Quaternion.Identity);        // the quad above
        b.SetPose(1, new Vector3(0.05f, 0, 1.7f), Quaternion.Identity); // 0.3 m below it, 5 cm off axis: inside
        b.SetPose(2, new Vector3(0.15f, 0, 1.7f), Quaternion.Identity); // below but 15 cm off axis: outside
        b.SetPose(3, new Vector3(0, 0.02f, 2.75f), Quaternion.Identity);// 0.75 m above quad 0: quad 0 is below the reach
        b.SetPose(4, new Vector3(3, 3, 2), Quaternion.Identity);        // far away
        var random = new LaneRandom(8);
        for (int i = 0; i < 8; i++) random.Seed(7, i);
        float[] ax = new float[5], ay = new float[5], az = new float[5];
        int affected = SwarmPhysics.Downwash(b, 0, 5, 0.01f, random, ax, ay, az);

        Assert.That(affected, Is.EqualTo(1));
        Assert.That(az[1], Is.LessThan(-1f), "pushed down: a(0.304 m) ≈ (6/17)(7 − 3.04) ≈ 1.4 m/s²");
        Assert.That(az[1], Is.GreaterThan(-1.8f));
        Assert.That(b.AngularVelocity(1).Length(), Is.GreaterThan(0f), "a rate kick");
        foreach (int i in new[] { 0, 2, 3, 4 })
        {
            Assert.That(new Vector3(ax[i], ay[i], az[i]), Is.EqualTo(Vector3.Zero), $"quad {i}");
            Assert.That(b.AngularVelocity(i), Is.EqualTo(Vector3.Zero), $"quad {i}");
        }
    }

    [Test]
    public void DownwashMatchesTheCylinderPredicateOnRandomLayouts()
    {
        // Brute force: quad j is affected iff some other quad i has it 0–0.7 m along i's body −z and < 0.1 m off that axis.
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(8, 1, downwash: true);
        var rng = new System.Random(11);
        int affectedSeen = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var b = new QuadrotorBatch(task.Robot, 8);
            for (int i = 0; i < 8; i++)
            {
                var tilt = Quaternion.CreateFromAxisAngle(Vector3.Normalize(new Vector3((float)rng.NextDouble() - 0.5f, (float)rng.NextDouble() - 0.5f, 0.01f)), (float)rng.NextDouble() * 0.4f);
                b.SetPose(i, new Vector3((float)rng.NextDouble() * 0.3f, (float)rng.NextDouble() * 0.3f, 1 + (float)rng.NextDouble() * 1.2f), tilt);
            }
            var random = new LaneRandom(8);
            for (int i = 0; i < 8; i++) random.Seed((ulong)trial, i);
            float[] ax = new float[8], ay = new float[8], az = new float[8];
            SwarmPhysics.Downwash(b, 0, 8, 0.01f, random, ax, ay, az);
            for (int j = 0; j < 8; j++)
            {
                bool expected = false;
                for (int i = 0; i < 8; i++)
                {
                    if (i == j) continue;
                    Vector3 axis = Vector3.Transform(Vector3.UnitZ, b.Orientation(i));
                    Vector3 r = b.Position(j) - b.Position(i);
                    float along = Vector3.Dot(r, axis);
                    float radial = (r - along * axis).Length();
                    if (along < 0 && along > -0.7f && radial < 0.1f) expected = true;
                }
                Vector3 acceleration = new(ax[j], ay[j], az[j]);
                Assert.That(acceleration != Vector3.Zero, Is.EqualTo(expected), $"trial {trial}, quad {j}");
                if (expected) { affectedSeen++; Assert.That(az[j], Is.LessThan(0f)); }
            }
        }
        Assert.That(affectedSeen, Is.GreaterThan(20), "the layouts put quads in each other's downwash");
    }

    [Test]
    public void SdfIsExactForOneColumnAndForAGrid()
    {
        Span<float> sdf = stackalloc float[9];
        float[] cx = new float[8], cy = new float[8];
        Array.Fill(cx, SwarmObservation.AbsentColumn); Array.Fill(cy, SwarmObservation.AbsentColumn);
        cx[0] = 0.5f; cy[0] = -1.5f;
        float centre = SwarmObservation.WriteSdf(1.2f, -1.3f, cx, cy, 1, 0.3f, 0.1f, 2f, sdf);
        for (int gx = 0; gx < 3; gx++)
            for (int gy = 0; gy < 3; gy++)
            {
                double x = 1.2 + (gx - 1) * 0.1, y = -1.3 + (gy - 1) * 0.1;
                double exact = Math.Sqrt((x - 0.5) * (x - 0.5) + (y + 1.5) * (y + 1.5)) - 0.3;
                Assert.That(sdf[3 * gx + gy], Is.EqualTo(exact).Within(2e-6), $"({gx}, {gy})");
            }
        Assert.That(centre, Is.EqualTo(sdf[4]));

        // QuadSwarm's grid: columns on every cell centre of a 4 × 4 block; the quad between four of them.
        var columnsX = new List<float>(); var columnsY = new List<float>();
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) { columnsX.Add(i + 0.5f); columnsY.Add(j + 0.5f); }
        float[] gxs = new float[16], gys = new float[16];
        columnsX.CopyTo(gxs); columnsY.CopyTo(gys);
        SwarmObservation.WriteSdf(2.0f, 2.0f, gxs, gys, 16, 0.3f, 0.1f, 2f, sdf);
        Assert.That(sdf[4], Is.EqualTo(Math.Sqrt(0.5) - 0.3).Within(2e-6), "the cell corner: √0.5 from four columns");
        Assert.That(sdf[0], Is.EqualTo(Math.Sqrt(0.4 * 0.4 * 2) - 0.3).Within(2e-6), "(1.9, 1.9): nearest (1.5, 1.5)");
        Assert.That(sdf[8], Is.EqualTo(Math.Sqrt(0.4 * 0.4 * 2) - 0.3).Within(2e-6), "(2.1, 2.1): nearest (2.5, 2.5)");
        Assert.That(sdf[2], Is.EqualTo(Math.Sqrt(0.4 * 0.4 * 2) - 0.3).Within(2e-6), "(1.9, 2.1): nearest (1.5, 2.5)");

        // No columns: every value is the clip.
        SwarmObservation.WriteSdf(2.0f, 2.0f, cx, cy, 0, 0.3f, 0.1f, 2f, sdf);
        Assert.That(sdf.ToArray(), Is.All.EqualTo(2f));
    }

    [Test]
    public void TheEnvObservesTheSdfAndBouncesOffAColumn()
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(1, 0);
        using var env = new SwarmEnv(task, 1, threadCount: 1);
        env.Reset(5);
        env.SetColumns(0, [new Vector2(1, 1)]);
        int l = env.Lane(0, 0);
        env.Batch.SetPose(l, new Vector3(0.5f, 1, 2), Quaternion.Identity);
        env.Batch.SetVelocities(l, new Vector3(1.5f, 0, 0), Vector3.Zero);
        env.SetGoal(0, 0, new Vector3(0.5f, 1, 2));
        env.RefreshObservations();
        int sdf = SwarmObservation.SdfOffset(0);
        Assert.That(env.ActorObservations[sdf + 4], Is.EqualTo(0.2f).Within(1e-6f), "0.5 m from the centre of a 0.3 m column");
        Assert.That(env.ActorObservations[sdf + 7], Is.EqualTo(0.1f).Within(1e-6f), "+0.1 m in x");
        float[] hover = HoverActions(env);
        bool touched = false;
        for (int k = 0; k < 20; k++)
        {
            env.Step(hover);
            touched |= env.TouchingColumn(0, 0);
            Assert.That(1 - env.Batch.Px[l], Is.GreaterThanOrEqualTo(0.3f - 1e-5f), $"step {k}: the centre never enters the column");
        }
        Assert.That(touched);
        Assert.That(env.Batch.Vx[l], Is.LessThan(0f), "bounced back");
        Assert.That(env.EpisodeCollisions(0, 0).Columns, Is.EqualTo(1));
    }

    [TestCase(2)]
    [TestCase(6)]
    public void NeighbourRankingMatchesABruteForceSort(int k)
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(8, k);
        using var env = new SwarmEnv(task, 3, threadCount: 1);
        env.Reset(9);
        var rng = new System.Random(4);
        for (int e = 0; e < 3; e++)
            for (int q = 0; q < 8; q++)
            {
                int l = env.Lane(e, q);
                env.Batch.SetPose(l, new Vector3((float)rng.NextDouble() * 2, (float)rng.NextDouble() * 2, 1 + (float)rng.NextDouble()), Quaternion.Identity);
                env.Batch.SetVelocities(l, new Vector3((float)rng.NextDouble() * 4 - 2, (float)rng.NextDouble() * 4 - 2, (float)rng.NextDouble() * 2 - 1), Vector3.Zero);
            }
        env.RefreshObservations();
        int size = env.ActorObservationSize;
        for (int e = 0; e < 3; e++)
            for (int q = 0; q < 8; q++)
            {
                Vector3 p = env.Batch.Position(env.Lane(e, q)), v = env.Batch.Velocity(env.Lane(e, q));
                int[] expected = Enumerable.Range(0, 8).Where(j => j != q)
                    .Select(j => (j, r: env.Batch.Position(env.Lane(e, j)) - p, rv: env.Batch.Velocity(env.Lane(e, j)) - v))
                    .OrderBy(t => (double)t.r.Length() + Vector3.Dot(Vector3.Normalize(t.r), t.rv)).ThenBy(t => t.j)
                    .Take(k).Select(t => t.j).ToArray();
                ReadOnlySpan<float> row = env.ActorObservations.Slice((e * 8 + q) * size, size);
                for (int rank = 0; rank < k; rank++)
                {
                    int j = expected[rank];
                    Vector3 r = env.Batch.Position(env.Lane(e, j)) - p, rv = env.Batch.Velocity(env.Lane(e, j)) - v;
                    int o = SwarmObservation.NeighbourOffset(rank);
                    Assert.That(new Vector3(row[o], row[o + 1], row[o + 2]), Is.EqualTo(r), $"env {e} quad {q} rank {rank}");
                    Assert.That(new Vector3(row[o + 3], row[o + 4], row[o + 5]), Is.EqualTo(rv), $"env {e} quad {q} rank {rank}");
                }
            }
    }

    [Test]
    public void AClosingNeighbourRanksBeforeAnEquallyDistantOneMovingAway()
    {
        Assert.That(SwarmObservation.NeighbourScore(1, 0, 0, -1, 0, 0), Is.LessThan(SwarmObservation.NeighbourScore(0, 1, 0, 0, 1, 0)));
        Assert.That(SwarmObservation.NeighbourScore(1, 0, 0, -0.5f, 0, 0), Is.EqualTo(0.5f));
    }

    [Test]
    public void ASingleQuadInAnEmptySwarmEnvFliesLikeQuadrotorBatch()
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(1, 0);
        using var env = new SwarmEnv(task, 1, threadCount: 1);
        env.Reset(21);
        int l = env.Lane(0, 0);
        // In the middle of the room (starts lie near a wall, which the bare batch does not have).
        env.Batch.SetPose(l, new Vector3(0, 0, 3), env.Batch.Orientation(l));
        var reference = new QuadrotorBatch(task.Robot, 1);
        reference.SetPose(0, env.Batch.Position(l), env.Batch.Orientation(l));
        reference.SetRotors(0, task.Robot.HoverRpm());
        float hover = task.Robot.HoverAction();
        var actions = new float[4];
        // 1.5 s: long enough to tilt and fly off a metre or two, short of the walls (which the bare batch lacks).
        for (int k = 0; k < 150; k++)
        {
            for (int m = 0; m < 4; m++) actions[m] = hover + 0.003f * MathF.Sin(0.05f * k + m);
            env.Step(actions);
            for (int m = 0; m < 4; m++) reference.CommandRpm[m][0] = task.Robot.RpmFromAction(actions[m]);
            reference.Integrate(task.ControlDt, task.Substeps);
            Assert.That(Vector3.Distance(env.Batch.Position(l), reference.Position(0)), Is.LessThan(1e-5f), $"step {k}");
            Assert.That(Vector3.Distance(env.Batch.Velocity(l), reference.Velocity(0)), Is.LessThan(1e-4f), $"step {k}");
        }
        Assert.That(env.Batch.AngularVelocity(l).Length(), Is.GreaterThan(0.01f), "the actions turned it: the comparison is not of a hover");
    }

    [TestCase("swap-goals")]
    [TestCase("dynamic-goals")]
    public void GoalsDoNotJumpOnTheEpisodesLastStep(string scenario)
    {
        // 15 s episodes, 5 s periods: the jumps at 5 s and 10 s happen, the one due at 15 s (the last step, where success is
        // judged) does not.
        string path = SwarmTestFiles.EditedTask(root =>
            root["scenarios"] = new JsonArray(new JsonObject { ["file"] = SwarmTestFiles.ScenarioFile("open/" + scenario), ["weight"] = 1 }),
            SwarmTestFiles.OpenTaskFile);
        SwarmTaskConfig task = SwarmTaskConfig.Load(path);
        using var env = new SwarmEnv(task, 1, threadCount: 1);
        env.Reset(9);
        float[] hover = HoverActions(env);
        int jumps = 0;
        Vector3 goal = env.Goal(0, 0);
        for (int k = 1; k < task.EpisodeSteps; k++)
        {
            env.Step(hover);
            if (env.Goal(0, 0) != goal) { jumps++; goal = env.Goal(0, 0); }
        }
        Assert.That(jumps, Is.EqualTo(2), "the goal moved at 5 s and 10 s");
        float[] before = env.ActorObservations[..3].ToArray();
        env.Step(hover); // the last step: truncation and reset
        Assert.That(env.Truncated[0], Is.True);
        // Position error p − goal at the end: hovering, the quad moves millimetres in a step, so a jump would show.
        Assert.That(env.FinalActorObservations[..3].ToArray(), Is.EqualTo(before).Within(0.02f), "judged against the goal flown to");
    }

    [TestCase(35f, false)]
    [TestCase(1e6f, true)]
    public void FullDifferentialThrustStaysBoundedOnlyWithTheBodyRateLimit(float limit, bool diverges)
    {
        // The cause of the non-finite states seen in training: a policy that holds yaw and roll differential (rotors 1 and 3
        // full, 0 off, 2 at half) spins the quad up (the model has no rotor drag). Once the yaw rate passes ~500 rad/s the
        // gyroscopic coupling turns the roll and pitch rates at (I_zz − I_xx)/I_xx · ω_z ≈ 0.55 ω_z, beyond what a 10 ms
        // RK4 step integrates stably (|λ·dt| > 2.8): the rates then grow many times a step until they overflow. Torque
        // alone cannot exceed ~1600 rad/s² × 5 s = 8000 rad/s here, so rates far above that are the integrator diverging.
        string path = SwarmTestFiles.EditedTask(root => root["body_rate_limit_rad_s"] = limit, SwarmTestFiles.OpenTaskFile);
        SwarmTaskConfig task = SwarmTaskConfig.Load(path);
        using var env = new SwarmEnv(task, 1, threadCount: 1);
        env.Reset(5);
        var actions = new float[env.NumEnvs * 4];
        for (int q = 0; q < env.QuadsPerEnv; q++)
        {
            actions[q * 4] = -1; actions[q * 4 + 1] = 1; actions[q * 4 + 2] = 0; actions[q * 4 + 3] = 1;
        }
        float maxRate = 0;
        for (int k = 0; k < 500; k++)
        {
            env.Step(actions);
            for (int q = 0; q < env.QuadsPerEnv; q++)
            {
                Vector3 w = env.Batch.AngularVelocity(env.Lane(0, q));
                maxRate = MathF.Max(maxRate, float.IsFinite(w.Length()) ? MathF.Max(MathF.Abs(w.X), MathF.Max(MathF.Abs(w.Y), MathF.Abs(w.Z))) : float.PositiveInfinity);
            }
        }
        if (diverges)
            Assert.That(maxRate, Is.GreaterThan(1e5f), "without the limit the integrator should diverge");
        else
        {
            Assert.That(env.NonFiniteEpisodes, Is.EqualTo(0));
            Assert.That(maxRate, Is.LessThanOrEqualTo(limit).And.GreaterThan(limit - 1), "the spin reaches the limit and stops there");
        }
    }

    [Test]
    public void ANewContactCostsTheCollisionWeightOnceScaledByTheAnnealingFactor()
    {
        SwarmTaskConfig task = SwarmTestFiles.PhysicsTask(2, 1);
        foreach (float scale in new[] { 1f, 0.25f })
        {
            using var env = new SwarmEnv(task, 1, threadCount: 1);
            env.CollisionWeightScale = scale;
            env.Reset(2);
            env.Batch.SetPose(env.Lane(0, 0), new Vector3(0, 0, 2), Quaternion.Identity);
            env.Batch.SetPose(env.Lane(0, 1), new Vector3(0.05f, 0, 2), Quaternion.Identity);
            env.SetGoal(0, 0, new Vector3(0, 0, 2));
            env.SetGoal(0, 1, new Vector3(0.05f, 0, 2));
            float[] hover = HoverActions(env);
            env.Step(hover);
            float first = env.Rewards[0];
            env.Step(hover);
            float second = env.Rewards[0];
            // Both steps pay the proximity penalty (4 · (1 − 0.05/0.184) · dt ≈ 0.029 · scale); only the first pays the contact.
            Assert.That(first - second, Is.EqualTo(-task.Reward.Collision * scale).Within(0.01f), $"scale {scale}");
            float dt = task.ControlDt, forceNorm = 2 * (task.Robot.HoverAction() + 1) / 2; // |f| of four equal hover forces
            float expectedSecond = dt * (task.Reward.Upright - task.Reward.Action * forceNorm) - scale * dt * task.Reward.ProximityMax * (1 - 0.05f / (4 * task.ArmLengthM));
            Assert.That(second, Is.EqualTo(expectedSecond).Within(2e-3f), $"scale {scale}");
        }
    }

    [Test]
    public void SameSeedSameRunForAnyThreadCountAndAnotherSeedDiffers()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        float[] Run(ulong seed, int threads)
        {
            using var env = new SwarmEnv(task, 6, threadCount: threads, minEnvsPerThread: 1);
            env.Reset(seed);
            var rng = new System.Random(3);
            var actions = new float[env.NumEnvs * 4];
            var trace = new List<float>();
            for (int k = 0; k < 400; k++)
            {
                for (int i = 0; i < actions.Length; i++) actions[i] = (float)rng.NextDouble() * 2 - 1;
                env.Step(actions);
                trace.AddRange(env.Rewards.ToArray());
            }
            trace.AddRange(env.ActorObservations.ToArray());
            return trace.ToArray();
        }
        float[] a = Run(17, 1);
        Assert.That(Run(17, 1), Is.EqualTo(a));
        Assert.That(Run(17, 2), Is.EqualTo(a));
        Assert.That(Run(18, 1), Is.Not.EqualTo(a));
    }

    [Test]
    public void StepAllocatesNothing()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        using var env = new SwarmEnv(task, 4, threadCount: 1);
        env.Reset(1);
        var rng = new System.Random(1);
        float[] actions = Enumerable.Range(0, env.NumEnvs * 4).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        for (int k = 0; k < 50; k++) env.Step(actions); // warm-up
        // 1600 steps: more than one 15 s episode, so the auto-reset is measured too.
        long bytes = AllocationMeter.FewestBytes(() => { for (int k = 0; k < 1600; k++) env.Step(actions); });
        Assert.That(bytes, Is.EqualTo(0));
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(0));
    }
}
